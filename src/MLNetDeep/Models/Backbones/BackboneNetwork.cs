using MLNetDeep.Initializers;
using MLNetDeep.Models.Cnn;
using MLNetDeep.OnnxImport;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Backbones;

/// <summary>
/// A pretrained backbone under a dense head: the preprocessing (<c>preprocess</c>), the imported network
/// (<c>body</c>, blocks <c>body.block0</c> …), pooling (<c>flatten</c>) and the head (<c>head</c>).
/// </summary>
public sealed class BackboneNetwork : DeepNetwork
{
    private readonly PixelPreprocess preprocess;
    private readonly OnnxNetwork body;
    private readonly nn.Module<Tensor, Tensor> flatten;
    private readonly nn.Module<Tensor, Tensor> head;

    internal BackboneNetwork(BackboneArchitecture arch, int outputSize, Initializer? initializer) : base("backbone")
    {
        var pretrained = arch.Pretrained;
        preprocess = new PixelPreprocess(arch, pretrained?.MeanImage);
        body = OnnxNetwork.FromModel(pretrained?.Model ?? BackboneGraph.Filled(arch.Graph));
        if (body.Blocks.Count != arch.BlockCount)
            throw new InvalidDataException($"The backbone graph splits into {body.Blocks.Count} blocks, but the description records {arch.BlockCount}.");
        var last = arch.BlockOutputShapes[^1];
        flatten = last.Length == 3 && arch.Pooling == FlattenMode.GlobalAveragePool
            ? nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            : nn.Flatten();
        head = new DenseHeadModule(arch.FeatureSize, arch.Head, outputSize, initializer);
        FirstBlock = arch.FirstBlock;
        RegisterComponents();
    }

    /// <summary>The imported backbone (its blocks are <c>body.block0</c>, …).</summary>
    public OnnxNetwork Backbone => body;

    /// <summary>The preprocessing module.</summary>
    internal PixelPreprocess Preprocess => preprocess;

    /// <summary>The block the forward pass starts at: 0 runs from the images; k runs from block k − 1's (cached) output.</summary>
    internal int FirstBlock { get; set; }

    /// <summary>x: [B, C, H, W] images in 0–1 (or, training on cached outputs, block FirstBlock − 1's outputs) → [B, outputs].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        int n = body.Blocks.Count;
        if (FirstBlock == 0) x = preprocess.call(x);                   // [B, C', H, W] as the network was trained on
        var features = FirstBlock < n ? body.ForwardBlocks(x, FirstBlock, n) : x; // [B, C'', h, w] or [B, F]
        var flat = flatten.call(features);                             // [B, F]
        return head.call(flat).MoveToOuterDisposeScope();              // [B, outputs]
    }
}

/// <summary>
/// The backbone's preprocessing as a module: a grey plane repeated to the backbone's channels, × scale, channel reorder,
/// − mean (per channel or a mean image), × 1/std. Its mean and 1/std are buffers saved with the model's weights.
/// </summary>
internal sealed class PixelPreprocess : nn.Module<Tensor, Tensor>
{
    private readonly Tensor mean;
    private readonly Tensor inv_std;
    private readonly Tensor? order;
    private readonly float _scale;
    private readonly long _channels;

    public PixelPreprocess(BackboneArchitecture arch, float[]? meanImage) : base("preprocess")
    {
        var p = arch.Preprocessing;
        _channels = arch.BackboneChannels;
        _scale = p.PixelScale;
        var s = arch.ImageShape;
        mean = p.MeanImage
            ? (meanImage is null ? zeros(1, _channels, s.Height, s.Width) : tensor(meanImage, new long[] { 1, _channels, s.Height, s.Width }))
            : tensor(p.Mean ?? new float[_channels], new long[] { 1, _channels, 1, 1 });
        inv_std = tensor((p.Std ?? Enumerable.Repeat(1f, (int)_channels).ToArray()).Select(v => 1f / v).ToArray(), new long[] { 1, _channels, 1, 1 });
        order = p.ChannelOrder == ChannelOrder.Bgr ? tensor(new long[] { 2, 1, 0 }) : null;
        register_buffer("mean", mean);
        register_buffer("inv_std", inv_std);
        if (order is not null) register_buffer("order", order, persistent: false);
    }

    /// <summary>The channel permutation applied (null = none).</summary>
    public long[]? Order => order?.data<long>().ToArray();
    /// <summary>The pixel scale.</summary>
    public float Scale => _scale;
    /// <summary>Subtracted after scaling: [1, C, 1, 1] or [1, C, H, W].</summary>
    public Tensor Mean => get_buffer("mean")!;
    /// <summary>Multiplied last: [1, C, 1, 1].</summary>
    public Tensor InverseStd => get_buffer("inv_std")!;

    // x: [B, 1 or C, H, W] in 0–1 → [B, C, H, W]
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (x.shape[1] == 1 && _channels != 1) x = x.expand(x.shape[0], _channels, x.shape[2], x.shape[3]);
        var o = get_buffer("order");
        if (o is not null) x = x.index_select(1, o);
        var y = (x * _scale - get_buffer("mean")!) * get_buffer("inv_std")!;
        return y.MoveToOuterDisposeScope();
    }
}
