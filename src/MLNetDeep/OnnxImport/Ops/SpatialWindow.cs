using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.OnnxImport.Ops;

/// <summary>
/// The sliding-window attributes shared by Conv, ConvTranspose, MaxPool and AveragePool (kernel_shape, strides,
/// dilations, pads, auto_pad), and the padding they give for an input's spatial size. ONNX's pads layout is
/// [x1_begin, x2_begin, ..., x1_end, x2_end]; LibTorch's F.pad takes (last_begin, last_end, ..., first_begin, first_end).
/// </summary>
internal sealed class SpatialWindow
{
    public long[] Kernel { get; }
    public long[] Strides { get; }
    public long[] Dilations { get; }
    private readonly long[] _pads;
    public string AutoPad { get; }
    public int Rank => Kernel.Length;

    private SpatialWindow(long[] kernel, long[] strides, long[] dilations, long[] pads, string autoPad)
    {
        Kernel = kernel;
        Strides = strides;
        Dilations = dilations;
        _pads = pads;
        AutoPad = autoPad;
    }

    /// <summary>Reads the attributes; <paramref name="kernelFromWeight"/> gives the kernel when kernel_shape is absent (Conv).</summary>
    public static SpatialWindow Read(ImportNode n, long[]? kernelFromWeight = null, bool dilationsAllowed = true)
    {
        var kernel = n.Ints("kernel_shape") ?? kernelFromWeight ?? throw n.Error("kernel_shape is required.");
        int r = kernel.Length;
        if (r is < 1 or > 3) throw n.Unsupported("kernel_shape", kernel, "1, 2 or 3 spatial dimensions");
        var strides = n.Ints("strides") ?? Enumerable.Repeat(1L, r).ToArray();
        var dilations = n.Ints("dilations") ?? Enumerable.Repeat(1L, r).ToArray();
        var pads = n.Ints("pads") ?? new long[2 * r];
        var autoPad = n.String("auto_pad", "NOTSET");
        if (autoPad is not ("NOTSET" or "SAME_UPPER" or "SAME_LOWER" or "VALID")) throw n.Unsupported("auto_pad", autoPad, "NOTSET, SAME_UPPER, SAME_LOWER or VALID");
        if (strides.Length != r || dilations.Length != r || pads.Length != 2 * r)
            throw n.Error($"kernel_shape [{string.Join(", ", kernel)}], strides [{string.Join(", ", strides)}], dilations [{string.Join(", ", dilations)}] and pads [{string.Join(", ", pads)}] disagree on the number of spatial dimensions.");
        if (!dilationsAllowed && dilations.Any(d => d != 1)) throw n.Unsupported("dilations", dilations, "1 only for this operator");
        if (strides.Any(s => s < 1) || dilations.Any(d => d < 1) || pads.Any(p => p < 0))
            throw n.Error($"strides [{string.Join(", ", strides)}] and dilations must be positive and pads [{string.Join(", ", pads)}] not negative.");
        return new SpatialWindow(kernel, strides, dilations, pads, autoPad);
    }

    /// <summary>Pads (begin[r], end[r]) for an input of spatial size <paramref name="size"/>: explicit, or computed for SAME_* / VALID.</summary>
    public (long[] Begin, long[] End) Pads(ReadOnlySpan<long> size)
    {
        var begin = new long[Rank];
        var end = new long[Rank];
        for (int i = 0; i < Rank; i++)
        {
            switch (AutoPad)
            {
                case "VALID": break;
                case "SAME_UPPER" or "SAME_LOWER":
                {
                    long outSize = (size[i] + Strides[i] - 1) / Strides[i];
                    long total = Math.Max(0, (outSize - 1) * Strides[i] + (Kernel[i] - 1) * Dilations[i] + 1 - size[i]);
                    long small = total / 2;
                    (begin[i], end[i]) = AutoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
                    break;
                }
                default:
                    begin[i] = _pads[i];
                    end[i] = _pads[Rank + i];
                    break;
            }
        }
        return (begin, end);
    }

    /// <summary>LibTorch's F.pad list for the spatial dimensions (last first).</summary>
    public static long[] TorchPads(long[] begin, long[] end)
    {
        var p = new long[2 * begin.Length];
        for (int i = 0; i < begin.Length; i++)
        {
            p[2 * i] = begin[begin.Length - 1 - i];
            p[2 * i + 1] = end[begin.Length - 1 - i];
        }
        return p;
    }

    /// <summary>Pads the spatial dimensions (the last <see cref="Rank"/>) of <paramref name="x"/> with <paramref name="value"/>.</summary>
    public static Tensor PadSpatial(Tensor x, long[] begin, long[] end, double value = 0) =>
        begin.All(v => v == 0) && end.All(v => v == 0) ? x : F.pad(x, TorchPads(begin, end), PaddingModes.Constant, value);

    /// <summary>
    /// Output size along spatial dimension <paramref name="i"/> as ONNX Runtime computes it for pooling:
    /// floor or ceil of (in + pads − dilated kernel) / stride + 1, and with ceil_mode the last window must start
    /// inside the input or the leading padding (onnx/onnx#5741).
    /// </summary>
    public long PooledSize(int i, long size, long begin, long end, bool ceilMode)
    {
        long numerator = size + begin + end - Dilations[i] * (Kernel[i] - 1) - 1;
        if (!ceilMode) return numerator / Strides[i] + 1;
        long outSize = (long)Math.Ceiling((double)numerator / Strides[i]) + 1;
        if ((outSize - 1) * Strides[i] >= size + begin) outSize--;
        return outSize;
    }

    /// <summary>
    /// The window of a rank-1 operation run as rank 2 (a height of 1): LibTorch's 1-D functions lack options
    /// the 2-D ones have (divisor_override, array arguments). Rank 2 and 3 windows are returned as they are.
    /// </summary>
    public SpatialWindow Lifted() => Rank != 1 ? this
        : new SpatialWindow(new[] { 1L, Kernel[0] }, new[] { 1L, Strides[0] }, new[] { 1L, Dilations[0] },
            new[] { 0L, _pads[0], 0L, _pads[1] }, AutoPad);
}
