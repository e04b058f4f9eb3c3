using MLNetDeep.Activations;
using MLNetDeep.Initializers;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Cnn;

/// <summary>The convolutional network described by a <see cref="CnnArchitecture"/>.</summary>
public sealed class CnnNetwork : DeepNetwork
{
    private readonly nn.Module<Tensor, Tensor> body;
    private readonly nn.Module<Tensor, Tensor> flatten;
    private readonly nn.Module<Tensor, Tensor> head;

    internal CnnNetwork(CnnArchitecture arch, int outputSize, Initializer? initializer) : base("cnn")
    {
        var shapes = arch.Plan();
        var seq = nn.Sequential();
        int c = arch.ImageShape.Channels, h = arch.ImageShape.Height, w = arch.ImageShape.Width;
        for (int i = 0; i < arch.Layers.Count; i++)
        {
            var layer = arch.Layers[i];
            nn.Module<Tensor, Tensor> block = layer switch
            {
                ConvBlock cb => new ConvBlockModule(ModulePaths.BlockName(i), cb, c, h, w, initializer),
                ResidualBlock rb => new ResidualBlockModule(ModulePaths.BlockName(i), rb, c, h, w, initializer),
                _ => throw new NotSupportedException($"Layers[{i}] has unknown type {layer.GetType().Name}."),
            };
            seq.append(ModulePaths.BlockName(i), block);
            (c, h, w) = shapes[i];
        }
        body = seq;
        long features;
        if (arch.Flatten == FlattenMode.GlobalAveragePool)
        {
            flatten = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten());
            features = c;
        }
        else
        {
            flatten = nn.Flatten();
            features = (long)c * h * w;
        }
        head = new DenseHeadModule(features, arch.Head, outputSize, initializer);
        RegisterComponents();
    }

    /// <summary>x: [B, C, H, W] → [B, outputs].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var features = body.call(x);       // [B, C', H', W']
        var flat = flatten.call(features); // [B, C'·H'·W'] or [B, C']
        return head.call(flat).MoveToOuterDisposeScope(); // [B, outputs]
    }

    internal static nn.Module<Tensor, Tensor> Pooling(CnnLayer layer) => layer.Pooling switch
    {
        PoolingKind.Max => new Pool2dModule("pool", max: true, layer.PoolSize),
        PoolingKind.Average => new Pool2dModule("pool", max: false, layer.PoolSize),
        _ => nn.Identity(),
    };

    /// <summary>A "same"-padded 2-D convolution: symmetric padding inside the conv, or an explicit ZeroPad2d when asymmetric.</summary>
    internal static nn.Module<Tensor, Tensor> SameConv(long inC, long outC, int kernel, int stride, int h, int w, bool bias, Initializer? init, Activation? act)
    {
        var (top, bottom) = CnnArchitecture.SamePadding(h, kernel, stride);
        var (left, right) = CnnArchitecture.SamePadding(w, kernel, stride);
        if (top == bottom && left == right)
        {
            var conv = nn.Conv2d(inC, outC, (kernel, kernel), stride: (stride, stride), padding: (top, left), bias: bias);
            NetworkInit.InitLayer(conv, init, act);
            return conv;
        }
        var padded = nn.Conv2d(inC, outC, (kernel, kernel), stride: (stride, stride), bias: bias);
        NetworkInit.InitLayer(padded, init, act);
        return nn.Sequential(("pad", nn.ZeroPad2d((left, right, top, bottom))), ("conv", padded));
    }
}

/// <summary>conv → [BN] → act → [pool] → [dropout].</summary>
internal sealed class ConvBlockModule : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> conv;
    private readonly nn.Module<Tensor, Tensor> norm;
    private readonly nn.Module<Tensor, Tensor> activation;
    private readonly nn.Module<Tensor, Tensor> pool;
    private readonly nn.Module<Tensor, Tensor> dropout;
    private readonly bool normAfter;

    public ConvBlockModule(string name, ConvBlock spec, int inC, int h, int w, Initializer? init) : base(name)
    {
        normAfter = spec.BatchNormPlacement == BatchNormPlacement.AfterActivation;
        bool bias = !spec.BatchNorm || normAfter; // batch norm's shift makes a conv bias redundant only when it follows the conv directly
        if (spec.Padding == PaddingMode.Same)
            conv = CnnNetwork.SameConv(inC, spec.Filters, spec.KernelSize, spec.Stride, h, w, bias, init, spec.Activation);
        else
        {
            int pad = spec.Padding == PaddingMode.Explicit ? spec.PaddingSize : 0;
            var c = nn.Conv2d(inC, spec.Filters, (spec.KernelSize, spec.KernelSize), stride: (spec.Stride, spec.Stride), padding: (pad, pad), bias: bias);
            NetworkInit.InitLayer(c, init, spec.Activation);
            conv = c;
        }
        norm = spec.BatchNorm ? nn.BatchNorm2d(spec.Filters) : nn.Identity();
        activation = spec.Activation.CreateModule();
        pool = CnnNetwork.Pooling(spec);
        dropout = spec.Dropout > 0 ? nn.Dropout2d(spec.Dropout) : nn.Identity();
        RegisterComponents();
    }

    // x: [B, Cin, H, W] → [B, Filters, H', W']
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var a = normAfter ? norm.call(activation.call(conv.call(x))) : activation.call(CnnInference.ConvThenNorm(conv, norm, x, training));
        var y = dropout.call(pool.call(a));
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>Two 3×3-style convolutions with a skip connection (He et al., 2016).</summary>
internal sealed class ResidualBlockModule : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> conv1;
    private readonly nn.Module<Tensor, Tensor> norm1;
    private readonly nn.Module<Tensor, Tensor> act1;
    private readonly nn.Module<Tensor, Tensor> conv2;
    private readonly nn.Module<Tensor, Tensor> norm2;
    private readonly nn.Module<Tensor, Tensor> shortcut;
    private readonly nn.Module<Tensor, Tensor> act2;
    private readonly nn.Module<Tensor, Tensor> pool;
    private readonly nn.Module<Tensor, Tensor> dropout;

    public ResidualBlockModule(string name, ResidualBlock spec, int inC, int h, int w, Initializer? init) : base(name)
    {
        bool bias = !spec.BatchNorm;
        conv1 = CnnNetwork.SameConv(inC, spec.Filters, spec.KernelSize, spec.Stride, h, w, bias, init, spec.Activation);
        int h2 = (h + spec.Stride - 1) / spec.Stride, w2 = (w + spec.Stride - 1) / spec.Stride;
        norm1 = spec.BatchNorm ? nn.BatchNorm2d(spec.Filters) : nn.Identity();
        act1 = spec.Activation.CreateModule();
        conv2 = CnnNetwork.SameConv(spec.Filters, spec.Filters, spec.KernelSize, 1, h2, w2, bias, init, spec.Activation);
        norm2 = spec.BatchNorm ? nn.BatchNorm2d(spec.Filters) : nn.Identity();
        if (inC != spec.Filters || spec.Stride != 1)
        {
            var proj = nn.Conv2d(inC, spec.Filters, (1, 1), stride: (spec.Stride, spec.Stride), bias: bias);
            NetworkInit.InitLayer(proj, init, null);
            shortcut = spec.BatchNorm ? nn.Sequential(("conv", proj), ("bn", nn.BatchNorm2d(spec.Filters))) : proj;
        }
        else shortcut = nn.Identity();
        act2 = spec.Activation.CreateModule();
        pool = CnnNetwork.Pooling(spec);
        dropout = spec.Dropout > 0 ? nn.Dropout2d(spec.Dropout) : nn.Identity();
        RegisterComponents();
    }

    // x: [B, Cin, H, W] → [B, Filters, ceil(H/stride), ceil(W/stride)] (then pooled)
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var main = CnnInference.ConvThenNorm(conv2, norm2, act1.call(CnnInference.ConvThenNorm(conv1, norm1, x, training)), training);
        var y = act2.call(main + Shortcut(x));
        return dropout.call(pool.call(y)).MoveToOuterDisposeScope();
    }

    // The projection shortcut with batch norm is Sequential(conv, bn): fold it like the main path.
    private Tensor Shortcut(Tensor x)
    {
        if (shortcut is TorchSharp.Modules.Sequential s && s.children().ToArray() is [nn.Module<Tensor, Tensor> proj, nn.Module<Tensor, Tensor> bn])
            return CnnInference.ConvThenNorm(proj, bn, x, training);
        return shortcut.call(x);
    }
}
