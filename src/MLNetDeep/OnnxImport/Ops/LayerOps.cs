using static MLNetDeep.OnnxImport.Ops.OpHelpers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetDeep.OnnxImport.Ops;

/// <summary>The layers with weights or windows: Conv, ConvTranspose, Gemm, MatMul, BatchNormalization and pooling.</summary>
internal static class LayerOps
{
    private static InputRole WeightsFrom1(long opset, int i) => i >= 1 ? InputRole.Weight : InputRole.Data;

    public static IEnumerable<OpDefinition> Definitions()
    {
        yield return new("Conv", Conv, WeightsFrom1, "1-3 spatial dims; group, dilations, strides, pads (asymmetric too), auto_pad SAME_UPPER/SAME_LOWER/VALID; bias optional");
        yield return new("ConvTranspose", ConvTranspose, WeightsFrom1, "1-3 spatial dims; group, dilations, strides, pads, output_padding, output_shape, auto_pad; bias optional");
        yield return new("Gemm", Gemm, (_, _) => InputRole.Weight, "transA, transB, alpha, beta; C optional (11+) and broadcast");
        yield return new("MatMul", n => (_, x) =>
        {
            CheckMatMul(n, x[0]!, x[1]!);
            return One(x[0]!.matmul(x[1]!));
        }, (_, _) => InputRole.Weight, "numpy matmul (batched, broadcast)");
        yield return new("BatchNormalization", BatchNorm, (_, i) => i switch { 0 => InputRole.Data, 1 or 2 => InputRole.Weight, _ => InputRole.Statistic },
            "epsilon, momentum; scale/bias trainable, mean/var buffers; batch statistics in train mode; spatial = 0 (opset < 9) too; not the training outputs");
        yield return new("MaxPool", MaxPool, notes: "1-3 spatial dims; pads, strides, dilations (10+), ceil_mode (10+), auto_pad; not the Indices output");
        yield return new("AveragePool", AveragePool, notes: "1-3 spatial dims; pads, strides, ceil_mode (10+), count_include_pad, auto_pad; not dilations (19+)");
        yield return new("GlobalAveragePool", _ => (_, x) => One(x[0]!.mean(SpatialDims(x[0]!), keepdim: true)));
        yield return new("GlobalMaxPool", _ => (_, x) => One(x[0]!.amax(SpatialDims(x[0]!), keepdim: true)));
    }

    private static long[] SpatialDims(Tensor x) => Enumerable.Range(2, (int)x.dim() - 2).Select(i => (long)i).ToArray();

    /// <summary>Rank-1 windows run as rank 2: [N, C, L] → [N, C, 1, L].</summary>
    private static Tensor Lift(Tensor t, int rank) => rank == 1 ? t.unsqueeze(2) : t;
    private static Tensor Lower(Tensor t, int rank) => rank == 1 ? t.squeeze(2) : t;

    private static SpatialWindow WindowFor(ImportNode n, ref SpatialWindow? cached, Tensor weight)
    {
        // kernel_shape may be absent: it is then the weight's spatial shape
        return cached ??= SpatialWindow.Read(n, weight.shape[2..]);
    }

    private static OpRun Conv(ImportNode n)
    {
        long groups = n.Int("group", 1);
        SpatialWindow? window = n.Has("kernel_shape") ? SpatialWindow.Read(n) : null;
        return (_, x) =>
        {
            var input = x[0]!;
            var weight = x[1]!;
            var w = WindowFor(n, ref window, weight);
            int r = w.Rank;
            if (input.dim() != r + 2) throw n.Error($"the input has shape [{string.Join(", ", input.shape)}], not [N, C] + {r} spatial dimensions.");
            var (begin, end) = w.Pads(input.shape.AsSpan(2));
            var lw = w.Lifted();
            var xi = Lift(input, r);
            var wi = Lift(weight, r);
            long[] padding;
            if (begin.SequenceEqual(end)) padding = r == 1 ? new[] { 0L, begin[0] } : begin;
            else
            {
                xi = Lift(SpatialWindow.PadSpatial(input, begin, end), r);
                padding = new long[lw.Rank];
            }
            var y = lw.Rank == 2
                ? F.conv2d(xi, wi, x.Length > 2 ? x[2] : null, lw.Strides, padding, lw.Dilations, groups)
                : F.conv3d(xi, wi, x.Length > 2 ? x[2] : null, lw.Strides, padding, lw.Dilations, groups);
            return One(Lower(y, r));
        };
    }

    private static OpRun ConvTranspose(ImportNode n)
    {
        long groups = n.Int("group", 1);
        var outputPadding = n.Ints("output_padding");
        var outputShape = n.Ints("output_shape");
        SpatialWindow? window = n.Has("kernel_shape") ? SpatialWindow.Read(n) : null;
        return (_, x) =>
        {
            var input = x[0]!;
            var weight = x[1]!;
            var bias = x.Length > 2 ? x[2] : null;
            var w = WindowFor(n, ref window, weight);
            int r = w.Rank;
            var size = input.shape[2..];
            var op = outputPadding ?? new long[r];
            long[] begin = new long[r], end = new long[r];
            bool computed = outputShape is not null || w.AutoPad is "SAME_UPPER" or "SAME_LOWER";
            if (computed)
            {
                // pads from the wanted output size (ONNX ConvTranspose): total = s·(in−1) + output_padding + ((k−1)·d+1) − out
                var target = outputShape is { } o ? o[^r..] : size.Select((s, i) => s * w.Strides[i]).ToArray();
                for (int i = 0; i < r; i++)
                {
                    long total = w.Strides[i] * (size[i] - 1) + op[i] + (w.Kernel[i] - 1) * w.Dilations[i] + 1 - target[i];
                    // halves rounded down, as ONNX's reference implementation does: a negative total (an output larger
                    // than the full transposed convolution) grows the end
                    long half = (long)Math.Floor(total / 2.0);
                    (begin[i], end[i]) = w.AutoPad == "SAME_UPPER" ? (half, total - half) : (total - half, half);
                }
            }
            else if (w.AutoPad != "VALID") (begin, end) = w.Pads(size);
            var lw = w.Lifted();
            var xi = Lift(input, r);
            var wi = Lift(weight, r);
            bool native = begin.SequenceEqual(end) && begin.All(p => p >= 0)
                          && op.Select((p, i) => p < Math.Max(w.Strides[i], w.Dilations[i])).All(ok => ok);
            if (native)
            {
                long[] pad = r == 1 ? new[] { 0L, begin[0] } : begin, opad = r == 1 ? new[] { 0L, op[0] } : op;
                var y = lw.Rank == 2
                    ? F.conv_transpose2d(xi, wi, bias, lw.Strides, pad, opad, lw.Dilations, groups)
                    : F.conv_transpose3d(xi, wi, bias, lw.Strides, pad, opad, lw.Dilations, groups);
                return One(Lower(y, r));
            }
            // the full transposed convolution, then output_padding added and pads cut at the ends (negative pads grow it)
            var full = lw.Rank == 2
                ? F.conv_transpose2d(xi, wi, null, lw.Strides, new long[lw.Rank], new long[lw.Rank], lw.Dilations, groups)
                : F.conv_transpose3d(xi, wi, null, lw.Strides, new long[lw.Rank], new long[lw.Rank], lw.Dilations, groups);
            full = Lower(full, r);
            var cut = SpatialWindow.PadSpatial(full, begin.Select(b => -b).ToArray(), end.Select((e, i) => op[i] - e).ToArray());
            if (bias is not null) cut = cut + bias.reshape(new long[] { 1, -1 }.Concat(Enumerable.Repeat(1L, r)).ToArray());
            return One(cut);
        };
    }

    /// <summary>
    /// Checks matmul shapes before LibTorch sees them: TorchSharp 0.107's matmul lets a shape error escape as a native
    /// exception that ends the process.
    /// </summary>
    private static void CheckMatMul(ImportNode n, Tensor a, Tensor b)
    {
        if (a.dim() == 0 || b.dim() == 0) throw new ArgumentException($"MatMul needs tensors of rank 1 or more, received ranks {a.dim()} and {b.dim()}.");
        long inner = b.dim() == 1 ? b.shape[0] : b.shape[^2];
        if (a.shape[^1] != inner)
            throw new ArgumentException($"the last dimension of A ({a.shape[^1]}) must equal {(b.dim() == 1 ? "the length" : "the second-last dimension")} of B ({inner}).");
        var batchA = a.dim() > 2 ? a.shape[..^2] : Array.Empty<long>();
        var batchB = b.dim() > 2 ? b.shape[..^2] : Array.Empty<long>();
        for (int i = 1; i <= Math.Min(batchA.Length, batchB.Length); i++)
        {
            long da = batchA[^i], db = batchB[^i];
            if (da != db && da != 1 && db != 1) throw new ArgumentException($"the batch dimensions of A [{string.Join(", ", batchA)}] and B [{string.Join(", ", batchB)}] do not broadcast.");
        }
    }

    private static OpRun Gemm(ImportNode n)
    {
        bool transA = n.Int("transA", 0) != 0, transB = n.Int("transB", 0) != 0;
        double alpha = n.Float("alpha", 1f), beta = n.Float("beta", 1f);
        return (_, x) =>
        {
            var a = x[0]!;
            var b = x[1]!;
            var c = x.Length > 2 ? x[2] : null;
            if (!transA && transB && alpha == 1 && beta == 1 && (c is null || c.dim() == 1) && a.dim() == 2 && b.dim() == 2 && a.shape[1] == b.shape[1])
                return One(F.linear(a, b, c)); // the nn.Linear case
            if (a.dim() != 2 || b.dim() != 2) throw new ArgumentException($"Gemm needs matrices, received ranks {a.dim()} and {b.dim()}.");
            var left = transA ? a.t() : a;
            var right = transB ? b.t() : b;
            CheckMatMul(n, left, right);
            if (c is null) return One(alpha == 1 ? left.mm(right) : left.mm(right) * alpha);
            return One(addmm(c, left, right, (float)beta, (float)alpha));
        };
    }

    private static OpRun BatchNorm(ImportNode n)
    {
        double eps = n.Float("epsilon", 1e-5f);
        double momentum = n.Float("momentum", 0.9f);
        bool spatial = n.Opset >= 9 || n.Int("spatial", 1) != 0;
        if (n.Int("training_mode", 0) != 0) throw n.Unsupported("training_mode", 1L, "0: the module's train()/eval() decides");
        n.SupportOutputs(1, "a training statistic");
        return (ctx, x) =>
        {
            var (input, scale, bias, mean, variance) = (x[0]!, x[1]!, x[2]!, x[3]!, x[4]!);
            // ONNX: running = running·momentum + batch·(1 − momentum); LibTorch's momentum is the weight of the batch
            if (spatial) return One(F.batch_norm(input, mean, variance, scale, bias, ctx.Training, 1 - momentum, eps));
            // spatial = 0 (opset < 9): statistics per activation ([C, D1, ...]), over the batch dimension only
            var shape = new long[] { 1 }.Concat(input.shape[1..]).ToArray();
            Tensor m = mean.reshape(shape), v = variance.reshape(shape);
            if (ctx.Training)
            {
                m = input.mean(new long[] { 0 }, keepdim: true);
                v = input.var(0, unbiased: false, keepdim: true);
                using (no_grad())
                {
                    long count = input.shape[0];
                    mean.mul_(momentum).add_(m.detach().reshape(mean.shape) * (1 - momentum));
                    variance.mul_(momentum).add_(v.detach().reshape(variance.shape) * (count > 1 ? (double)count / (count - 1) : 1.0) * (1 - momentum));
                }
            }
            return One((input - m) / (v + eps).sqrt() * scale.reshape(shape) + bias.reshape(shape));
        };
    }

    /// <summary>
    /// A pooling node: LibTorch pads it itself (<paramref name="native"/>, on the lifted input and window with symmetric
    /// padding) when the pads are symmetric and at most half the kernel; otherwise <paramref name="padded"/> pools an input
    /// padded by hand (begin, end) with no padding of its own, and the result is cut to ONNX Runtime's output size.
    /// </summary>
    private static OpRun Pooling(SpatialWindow window, bool ceil, Func<Tensor, SpatialWindow, long[], Tensor> native,
        Func<Tensor, SpatialWindow, long[], long[], Tensor> padded) => (_, x) =>
    {
        var input = x[0]!;
        int r = window.Rank;
        var size = input.shape[2..];
        var (begin, end) = window.Pads(size);
        var lw = window.Lifted();
        if (begin.SequenceEqual(end) && begin.Select((p, i) => p <= window.Kernel[i] / 2).All(ok => ok))
            return One(Lower(native(Lift(input, r), lw, r == 1 ? new[] { 0L, begin[0] } : begin), r));
        return One(Trim(Lower(padded(input, lw, begin, end), r), window, size, begin, end, ceil));
    };

    private static OpRun MaxPool(ImportNode n)
    {
        var window = SpatialWindow.Read(n);
        bool ceil = n.Int("ceil_mode", 0) != 0;
        n.SupportOutputs(1, "Indices");
        Tensor Pool(Tensor x, SpatialWindow w, long[] pad) => w.Rank == 2
            ? F.max_pool2d(x, w.Kernel, w.Strides, pad, w.Dilations, ceil)
            : F.max_pool3d(x, w.Kernel, w.Strides, pad, w.Dilations, ceil);
        return Pooling(window, ceil, Pool, (input, w, begin, end) =>
        {
            double lowest = is_floating_point(input) ? double.NegativeInfinity : MinValue(input.dtype);
            return Pool(Lift(SpatialWindow.PadSpatial(input, begin, end, lowest), window.Rank), w, new long[w.Rank]);
        });
    }

    private static double MinValue(ScalarType t) => t switch
    {
        ScalarType.Int8 => sbyte.MinValue,
        ScalarType.Byte => 0,
        ScalarType.Int16 => short.MinValue,
        ScalarType.Int32 => int.MinValue,
        _ => long.MinValue,
    };

    /// <summary>Cuts a pooled tensor computed on a padded input to ONNX Runtime's output size (LibTorch may give one more window).</summary>
    private static Tensor Trim(Tensor pooled, SpatialWindow w, long[] size, long[] begin, long[] end, bool ceil)
    {
        for (int i = 0; i < w.Rank; i++)
        {
            long want = w.PooledSize(i, size[i], begin[i], end[i], ceil);
            if (pooled.shape[2 + i] > want) pooled = pooled.narrow(2 + i, 0, want);
        }
        return pooled;
    }

    private static OpRun AveragePool(ImportNode n)
    {
        var window = SpatialWindow.Read(n, dilationsAllowed: false);
        bool ceil = n.Int("ceil_mode", 0) != 0;
        bool countPad = n.Int("count_include_pad", 0) != 0;
        return Pooling(window, ceil,
            (x, w, pad) => w.Rank == 2 ? F.avg_pool2d(x, w.Kernel, w.Strides, pad, ceil, countPad) : F.avg_pool3d(x, w.Kernel, w.Strides, pad, ceil, countPad),
            (input, w, begin, end) =>
            {
                // asymmetric or large pads: window sums over the zero-padded input divided by the number of counted
                // positions in each window (a mask pooled the same way: ones over the input, and over the pads too when
                // count_include_pad), which is exact for every pads / ceil_mode combination
                int r = window.Rank;
                var padded = Lift(SpatialWindow.PadSpatial(input, begin, end), r);
                using var maskInput = ones(new long[] { 1, 1 }.Concat(input.shape[2..]).ToArray(), input.dtype, input.device);
                var mask = Lift(SpatialWindow.PadSpatial(maskInput, begin, end, countPad ? 1 : 0), r);
                Tensor Sum(Tensor t) => w.Rank == 2
                    ? F.avg_pool2d(t, w.Kernel, w.Strides, new long[2], ceil, true, 1)
                    : F.avg_pool3d(t, w.Kernel, w.Strides, new long[3], ceil, true, 1);
                return Sum(padded) / Sum(mask);
            });
    }
}
