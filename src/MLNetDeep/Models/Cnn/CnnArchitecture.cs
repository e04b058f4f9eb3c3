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
        for (int i = 0; i < Layers.Count; i++) Layers[i].Validate(i);
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
            (h, w) = (ConvOut(layer, h), ConvOut(layer, w));
            if (layer.Pooling != PoolingKind.None) (h, w) = (h / layer.PoolSize, w / layer.PoolSize);
            c = layer.Filters;
            if (h <= 0 || w <= 0)
                throw new ArgumentException(
                    $"Layers[{i}] shrinks the {ImageShape} image to {h}x{w}. Use 'same' padding, smaller strides, " +
                    "less pooling or fewer blocks for images this small.", nameof(Layers));
            shapes.Add((c, h, w));
        }
        return shapes;
    }

    internal static int ConvOut(CnnLayer layer, int size)
    {
        if (layer is ConvBlock cb && cb.Padding != PaddingMode.Same)
        {
            int pad = cb.Padding == PaddingMode.Explicit ? cb.PaddingSize : 0;
            return (size + 2 * pad - layer.KernelSize) / layer.Stride + 1;
        }
        return (size + layer.Stride - 1) / layer.Stride; // "same": ceil(size / stride)
    }

    /// <summary>Keras/TensorFlow "same" padding: (before, after) so the output is ceil(size / stride).</summary>
    internal static (int Before, int After) SamePadding(int size, int kernel, int stride)
    {
        int outSize = (size + stride - 1) / stride;
        int total = Math.Max((outSize - 1) * stride + kernel - size, 0);
        return (total / 2, total - total / 2);
    }
}
