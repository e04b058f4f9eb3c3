using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Cnn;

/// <summary>
/// Inference-time forms of CNN layers (eval mode only): the same function as the training-time layers up to float
/// rounding, computed faster on CPU. Training always runs the plain layers, so gradients are unchanged.
/// </summary>
internal static class CnnInference
{
    /// <summary>
    /// conv → batch norm. In eval mode the norm is an affine map per channel, so it is folded into the convolution's
    /// weights and bias (one pass over the activations instead of two); in training mode both layers run as they are.
    /// </summary>
    /// <param name="conv">A Conv2d, or a Sequential of ZeroPad2d and Conv2d (asymmetric "same" padding).</param>
    /// <param name="norm">The BatchNorm2d after it.</param>
    /// <param name="x">[B, C, H, W].</param>
    /// <param name="training">Whether the network is in training mode (then nothing is folded).</param>
    public static Tensor ConvThenNorm(nn.Module<Tensor, Tensor> conv, nn.Module<Tensor, Tensor> norm, Tensor x, bool training)
    {
        if (training || norm is not BatchNorm2d bn || bn.running_mean is null || bn.running_var is null)
            return norm.call(conv.call(x));
        Conv2d? c = conv as Conv2d;
        ZeroPad2d? pad = null;
        if (c is null)
            foreach (var m in conv.children())
            {
                if (m is Conv2d found) c = found;
                else if (m is ZeroPad2d p) pad = p;
            }
        if (c is null) return norm.call(conv.call(x));

        // Folded afresh on every call: a few hundred values per layer against a whole batch of activations, and never
        // stale after weights are loaded or trained.
        using var scope = NewDisposeScope();
        var scale = bn.running_var.add(bn.eps).rsqrt();                 // [C]
        if (bn.weight is not null) scale = scale.mul(bn.weight);
        var weight = c.weight!.mul(scale.view(-1, 1, 1, 1));            // [C, Cin, k, k]
        var shift = c.bias is null ? bn.running_mean.neg() : c.bias.sub(bn.running_mean);
        var bias = shift.mul(scale);                                    // [C]
        if (bn.bias is not null) bias = bias.add(bn.bias);
        var input = pad is null ? x : pad.call(x);
        return nn.functional.conv2d(input, weight, bias, c.stride, c.padding, c.dilation, c.groups).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Max or average pooling with a square window and stride equal to the window (floor mode, no padding). Training
/// runs LibTorch's pooling layer; eval mode reduces the window's strided slices, rows first (contiguous memory) and
/// then columns, which gives the same values and is several times faster on CPU than LibTorch's NCHW pooling kernel.
/// </summary>
internal sealed class Pool2dModule : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> exact;
    private readonly bool max;
    private readonly long size;

    public Pool2dModule(string name, bool max, int size) : base(name)
    {
        this.max = max;
        this.size = size;
        exact = max ? nn.MaxPool2d(size) : nn.AvgPool2d(size);
        RegisterComponents();
    }

    // x: [B, C, H, W] → [B, C, H / size, W / size] (floor)
    public override Tensor forward(Tensor x)
    {
        if (training || x.dim() != 4) return exact.call(x);
        using var scope = NewDisposeScope();
        var rows = Reduce(x, 2);   // [B, C, H/size, W]
        var y = Reduce(rows, 3);   // [B, C, H/size, W/size]
        if (!max) y = y.div(size * size);
        return y.MoveToOuterDisposeScope();
    }

    private Tensor Reduce(Tensor x, int dim)
    {
        long end = x.shape[dim] / size * size;
        Tensor? acc = null;
        for (long i = 0; i < size; i++)
        {
            var slice = x.slice(dim, i, end, size);
            acc = acc is null ? slice : max ? torch.maximum(acc, slice) : acc.add(slice);
        }
        return acc!;
    }
}
