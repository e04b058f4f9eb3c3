using System.Text.Json.Serialization;
using MLNetDeep.Data;
using MLNetDeep.Initializers;
using MLNetDeep.Models.Cnn;
using MLNetDeep.OnnxImport;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Backbones;

/// <summary>
/// The saved description of a CNN trainer's network with a pretrained backbone: the backbone's ONNX graph without
/// its weights (the model's weights hold them), its preprocessing, the input image shape, how the backbone's output
/// is pooled, and the dense head. Module names: <c>preprocess</c>, <c>body.block0</c> … <c>body.block{n−1}</c> (the
/// imported network's blocks), <c>flatten</c>, <c>head.layers.…</c> — so transfer options (FreezeBlocks, learning-rate
/// multipliers by prefix) apply as to the CNN family.
/// </summary>
public sealed class BackboneArchitecture : NetworkArchitecture
{
    /// <summary>The images in the feature column (channels × height × width, ExtractPixels' order, values 0–1).</summary>
    public ImageShape ImageShape { get; init; } = new(3, 224, 224);
    /// <summary>The backbone's name (e.g. "ResNet18").</summary>
    public string BackboneName { get; init; } = "";
    /// <summary>The backbone's cut ONNX graph with the values of its weights and statistics left out (they are in the model's weights).</summary>
    public byte[] Graph { get; init; } = Array.Empty<byte>();
    /// <summary>The graph value the backbone takes.</summary>
    public string InputName { get; init; } = "";
    /// <summary>The graph value the head is put on.</summary>
    public string OutputName { get; init; } = "";
    /// <summary>The default-domain opset of the backbone's graph.</summary>
    public long Opset { get; init; }
    /// <summary>Input channels the backbone takes (a grey image is repeated to these).</summary>
    public int BackboneChannels { get; init; } = 3;
    /// <summary>What the backbone expects its pixels to be.</summary>
    public ImagePreprocessing Preprocessing { get; init; } = new();
    /// <summary>How the backbone's output becomes the head's input vector.</summary>
    public FlattenMode Pooling { get; init; } = FlattenMode.GlobalAveragePool;
    /// <summary>The dense head.</summary>
    public DenseHead Head { get; init; } = new();
    /// <summary>The output shape (without the batch dimension) of every backbone block for <see cref="ImageShape"/>.</summary>
    public List<long[]> BlockOutputShapes { get; set; } = new();

    /// <summary>Blocks of the backbone.</summary>
    [JsonIgnore] public int BlockCount => BlockOutputShapes.Count;

    /// <summary>
    /// Training on cached outputs: the network starts at this block and its input is block FirstBlock − 1's output
    /// (0 = the images). Never saved: a trained model always runs from the images.
    /// </summary>
    [JsonIgnore] internal int FirstBlock { get; init; }

    /// <summary>The pretrained weights while training from the file (null for an architecture read from a model file).</summary>
    [JsonIgnore] internal PretrainedBackbone? Pretrained { get; set; }

    /// <inheritdoc />
    public override FeatureLayout Layout => new FixedShapeLayout
    {
        Shape = FirstBlock == 0 ? new long[] { ImageShape.Channels, ImageShape.Height, ImageShape.Width } : BlockOutputShapes[FirstBlock - 1].ToArray(),
        ShapeDescription = FirstBlock == 0 ? "channels x height x width" : $"{BackboneName} block{FirstBlock - 1} output",
    };

    /// <summary>This architecture for training from block <paramref name="firstBlock"/> on cached outputs (0 = from the images).</summary>
    internal BackboneArchitecture From(int firstBlock) => new()
    {
        ImageShape = ImageShape, BackboneName = BackboneName, Graph = Graph, InputName = InputName, OutputName = OutputName, Opset = Opset,
        BackboneChannels = BackboneChannels, Preprocessing = Preprocessing, Pooling = Pooling, Head = Head,
        BlockOutputShapes = BlockOutputShapes, FirstBlock = firstBlock, Pretrained = Pretrained,
    };

    /// <inheritdoc />
    public override void Validate()
    {
        if (ImageShape is null) throw new ArgumentNullException(nameof(ImageShape), "ImageShape must be set, e.g. new ImageShape(3, 224, 224).");
        if (ImageShape.Channels <= 0 || ImageShape.Height <= 0 || ImageShape.Width <= 0)
            throw new ArgumentOutOfRangeException(nameof(ImageShape), ImageShape, $"ImageShape dimensions must be > 0. Received: ImageShape={ImageShape}");
        if (ImageShape.Channels != BackboneChannels && ImageShape.Channels != 1)
            throw new ArgumentException(
                $"Backbone {BackboneName} takes {BackboneChannels}-channel images; ImageShape has {ImageShape.Channels} channels. Received: ImageShape={ImageShape}. " +
                $"Extract {BackboneChannels} colour planes (ExtractPixels with its default colors), or one grey plane, which is repeated.", nameof(ImageShape));
        if (Graph is null || Graph.Length == 0) throw new ArgumentException("The backbone's graph is missing.", nameof(Graph));
        if (Preprocessing is null) throw new ArgumentNullException(nameof(Preprocessing), "The backbone's preprocessing must be set.");
        Preprocessing.Validate(BackboneChannels);
        if (!Enum.IsDefined(Pooling)) throw new ArgumentOutOfRangeException(nameof(Pooling), Pooling, $"Pooling is not a known mode. Received: Pooling={Pooling}");
        if (Head is null) throw new ArgumentNullException(nameof(Head), "Head must be set (new DenseHead()).");
        Head.Validate("Head");
        if (BlockOutputShapes is null || BlockOutputShapes.Count == 0 || BlockOutputShapes.Any(s => s is null || s.Length == 0 || s.Any(d => d <= 0)))
            throw new ArgumentException("The backbone's block output shapes are missing or not positive.", nameof(BlockOutputShapes));
        var last = BlockOutputShapes[^1];
        if (last.Length != 1 && last.Length != 3)
            throw new ArgumentException($"Backbone {BackboneName}'s output '{OutputName}' has shape [{string.Join(", ", last)}] per image; the head takes a vector or a C × H × W map. " +
                                        "Cut the backbone at another value.", nameof(BlockOutputShapes));
    }

    /// <summary>Values the head gets per image.</summary>
    internal long FeatureSize
    {
        get
        {
            var last = BlockOutputShapes[^1];
            return last.Length == 1 ? last[0] : Pooling == FlattenMode.GlobalAveragePool ? last[0] : last.Aggregate(1L, (a, b) => a * b);
        }
    }

    /// <inheritdoc />
    public override DeepNetwork Build(int outputSize, Initializer? initializer) => new BackboneNetwork(this, outputSize, initializer);

    /// <inheritdoc />
    public override IReadOnlyList<ParameterCount> CountParameters(int outputSize) =>
        Head.CountParameters(FeatureSize, outputSize, "Head").ToList();

    /// <summary>Runs one image of zeros through every block (eval mode, no gradients) for the output shapes; a clear error when the size does not fit.</summary>
    internal List<long[]> ProbeShapes(OnnxNetwork network)
    {
        var shapes = new List<long[]>();
        bool training = network.training;
        network.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var x = zeros(1, BackboneChannels, ImageShape.Height, ImageShape.Width);
            for (int b = 0; b < network.Blocks.Count; b++)
            {
                x = network.ForwardBlocks(x, b, b + 1);
                shapes.Add(x.shape.Skip(1).ToArray());
            }
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or System.Runtime.InteropServices.ExternalException)
        {
            throw new ArgumentException(
                $"Backbone {BackboneName} can't take {ImageShape.Height} x {ImageShape.Width} images: {e.Message.Split('\n')[0]} " +
                $"Received: ImageShape={ImageShape}. Resize the images to a size the network accepts (e.g. ResizeImages to 224 x 224).", nameof(ImageShape), e);
        }
        finally
        {
            if (training) network.train();
        }
        return shapes;
    }
}
