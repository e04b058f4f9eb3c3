using MLNetDeep.Data;
using MLNetDeep.Initializers;

namespace MLNetDeep.Models.Cnn;

/// <summary>Channels × height × width of the images in the feature vector (row-major, as ExtractPixels writes them).</summary>
public sealed record ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Values per image.</summary>
    public long Size => (long)Channels * Height * Width;

    /// <inheritdoc />
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}

/// <summary>The saved description of a convolutional network.</summary>
public sealed class CnnArchitecture : NetworkArchitecture
{
    /// <summary>Input image shape.</summary>
    public ImageShape ImageShape { get; init; } = new(1, 28, 28);
    /// <summary>Convolutional body, in order.</summary>
    public List<CnnLayer> Layers { get; init; } = new();
    /// <summary>How the body's output is flattened.</summary>
    public FlattenMode Flatten { get; init; } = FlattenMode.Flatten;
    /// <summary>Dense head.</summary>
    public DenseHead Head { get; init; } = new();

    /// <inheritdoc />
    public override FeatureLayout Layout => new FixedShapeLayout
    {
        Shape = new long[] { ImageShape.Channels, ImageShape.Height, ImageShape.Width },
        ShapeDescription = "channels x height x width",
    };

    /// <inheritdoc />
    public override void Validate()
    {
        if (ImageShape is null) throw new ArgumentNullException(nameof(ImageShape), "ImageShape must be set, e.g. new ImageShape(1, 28, 28).");
        if (ImageShape.Channels <= 0 || ImageShape.Height <= 0 || ImageShape.Width <= 0)
            throw new ArgumentOutOfRangeException(nameof(ImageShape), ImageShape, $"ImageShape dimensions must be > 0. Received: ImageShape={ImageShape}");
        if (Layers is null) throw new ArgumentNullException(nameof(Layers), "Layers must be a list (empty for a dense-only network).");
        for (int i = 0; i < Layers.Count; i++)
        {
            if (Layers[i] is null)
                throw new ArgumentNullException(nameof(Layers), $"Layers[{i}] is null. Remove it or put a layer there (new ConvBlock(32, 3) or new ResidualBlock(64)).");
            Layers[i].Validate(i);
        }
        if (!Enum.IsDefined(Flatten)) throw new ArgumentOutOfRangeException(nameof(Flatten), Flatten, $"Flatten is not a known mode. Received: Flatten={Flatten}");
        if (Head is null) throw new ArgumentNullException(nameof(Head), "Head must be set (new DenseHead()).");
        Head.Validate("Head");
        _ = Plan(); // checks that the image survives every block
    }

    /// <inheritdoc />
    public override DeepNetwork Build(int outputSize, Initializer? initializer) => new CnnNetwork(this, outputSize, initializer);

    /// <summary>Output (channels, height, width) after each layer; throws when a layer shrinks the image to nothing.</summary>
    internal List<(int Channels, int Height, int Width)> Plan()
    {
        var shapes = new List<(int, int, int)>();
        int c = ImageShape.Channels, h = ImageShape.Height, w = ImageShape.Width;
        for (int i = 0; i < Layers.Count; i++)
        {
            var layer = Layers[i];
            int inH = h, inW = w;
            (h, w) = (ConvOut(layer, h, i, "height"), ConvOut(layer, w, i, "width"));
            if (layer.Pooling != PoolingKind.None)
            {
                if (h < layer.PoolSize || w < layer.PoolSize)
                    throw new ArgumentException(
                        $"Layers[{i}] ({layer.GetType().Name}): its {h}x{w} output (from a {c}x{inH}x{inW} input) is smaller than the {layer.PoolSize}x{layer.PoolSize} " +
                        $"pooling window, so pooling leaves nothing. Received: PoolSize={layer.PoolSize}. Use a smaller PoolSize, Pooling = None, " +
                        "'same' padding or fewer blocks for images this small.", nameof(Layers));
                (h, w) = (h / layer.PoolSize, w / layer.PoolSize);
            }
            c = layer.Filters;
            shapes.Add((c, h, w));
        }
        return shapes;
    }

    /// <summary>The output size of a layer's convolution along one side; throws naming the layer when the kernel doesn't fit.</summary>
    internal static int ConvOut(CnnLayer layer, int size, int index = -1, string side = "side")
    {
        if (layer is ConvBlock cb && cb.Padding != PaddingMode.Same)
        {
            int pad = cb.Padding == PaddingMode.Explicit ? cb.PaddingSize : 0;
            long padded = (long)size + 2L * pad;
            if (padded < layer.KernelSize)
                throw new ArgumentException(
                    $"Layers[{index}] ({layer.GetType().Name}): the {layer.KernelSize}x{layer.KernelSize} kernel is larger than its input's {side} " +
                    $"({size}{(pad > 0 ? $" + 2x{pad} padding" : "")} = {padded}), with {cb.Padding} padding. Received: KernelSize={layer.KernelSize}. " +
                    "Use a smaller kernel, Padding = PaddingMode.Same, more padding, or fewer downsampling blocks before it.", nameof(Layers));
            return (int)((padded - layer.KernelSize) / layer.Stride + 1); // the numerator is >= 0 here, so this is floor
        }
        return (int)(((long)size + layer.Stride - 1) / layer.Stride); // "same": ceil(size / stride)
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterCount> CountParameters(int outputSize)
    {
        var parts = new List<ParameterCount>();
        long c = ImageShape.Channels;
        var plan = Plan();
        for (int i = 0; i < Layers.Count; i++)
        {
            var layer = Layers[i];
            long k = layer.KernelSize, f = layer.Filters, bn = layer.BatchNorm ? 4 * f : 0;
            long count = layer switch
            {
                ResidualBlock rb => c * f * k * k + f * f * k * k + 2 * (f + bn) + (c != f || rb.Stride != 1 ? c * f + f + bn : 0),
                _ => c * f * k * k + f + bn,
            };
            parts.Add(new ParameterCount($"Layers[{i}] ({layer.GetType().Name}, Filters={layer.Filters}, KernelSize={layer.KernelSize})", count));
            c = f;
        }
        var (lc, lh, lw) = plan.Count > 0 ? plan[^1] : (ImageShape.Channels, ImageShape.Height, ImageShape.Width);
        long flat = Flatten == FlattenMode.GlobalAveragePool ? lc : (long)lc * lh * lw;
        parts.AddRange(Head.CountParameters(flat, outputSize, "Head"));
        return parts;
    }

    /// <summary>Keras/TensorFlow "same" padding: (before, after) so the output is ceil(size / stride).</summary>
    internal static (int Before, int After) SamePadding(int size, int kernel, int stride)
    {
        int outSize = (size + stride - 1) / stride;
        int total = Math.Max((outSize - 1) * stride + kernel - size, 0);
        return (total / 2, total - total / 2);
    }
}
