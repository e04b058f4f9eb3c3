using System.Text.Json.Serialization;
using MLNetDeep.Activations;
using MLNetDeep.Models;

namespace MLNetDeep.Models.Cnn;

/// <summary>How a convolution pads its input.</summary>
public enum PaddingMode
{
    /// <summary>Pad so the output has ceil(input / stride) pixels (Keras "same"; asymmetric when needed).</summary>
    Same,
    /// <summary>No padding ("valid").</summary>
    Valid,
    /// <summary><see cref="ConvBlock.PaddingSize"/> zero pixels on every side.</summary>
    Explicit,
}

/// <summary>Downsampling after a block.</summary>
public enum PoolingKind
{
    /// <summary>No pooling.</summary>
    None,
    /// <summary>Max pooling.</summary>
    Max,
    /// <summary>Average pooling.</summary>
    Average,
}

/// <summary>A layer of the convolutional body.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(ConvBlock), "conv")]
[JsonDerivedType(typeof(ResidualBlock), "residual")]
public abstract class CnnLayer
{
    /// <summary>Output channels (filters).</summary>
    public int Filters { get; set; } = 32;
    /// <summary>Square kernel size.</summary>
    public int KernelSize { get; set; } = 3;
    /// <summary>Convolution stride.</summary>
    public int Stride { get; set; } = 1;
    /// <summary>Batch normalisation after the convolution (before the activation).</summary>
    public bool BatchNorm { get; set; } = true;
    /// <summary>Non-linearity. Default ReLU.</summary>
    public Activation Activation { get; set; } = new Relu();
    /// <summary>Pooling after the block.</summary>
    public PoolingKind Pooling { get; set; } = PoolingKind.None;
    /// <summary>Pooling window (and stride).</summary>
    public int PoolSize { get; set; } = 2;
    /// <summary>Dropout rate after the block (0 = none).</summary>
    public double Dropout { get; set; }

    internal virtual void Validate(int index)
    {
        void Require(bool ok, string option, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, value, $"Layers[{index}] ({GetType().Name}).{option} {rule}. Received: {option}={value}");
        }
        Require(Filters > 0, nameof(Filters), Filters, "must be > 0");
        Require(KernelSize > 0, nameof(KernelSize), KernelSize, "must be > 0");
        Require(Stride > 0, nameof(Stride), Stride, "must be > 0");
        Require(PoolSize > 0, nameof(PoolSize), PoolSize, "must be > 0");
        Require(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
        if (Activation is null) throw new ArgumentNullException(nameof(Activation), $"Layers[{index}].Activation must be set (e.g. new Relu()).");
    }
}

/// <summary>Convolution → [batch norm] → activation → [pooling] → [dropout] (batch norm after the activation with <see cref="BatchNormPlacement.AfterActivation"/>).</summary>
public sealed class ConvBlock : CnnLayer
{
    /// <summary>Creates a block with 32 filters, 3×3 kernel, "same" padding, batch norm and ReLU.</summary>
    public ConvBlock() { }

    /// <summary>Creates a block with the given filters and kernel size.</summary>
    public ConvBlock(int filters, int kernelSize = 3, PoolingKind pooling = PoolingKind.None)
    {
        Filters = filters;
        KernelSize = kernelSize;
        Pooling = pooling;
    }

    /// <summary>Where batch norm goes relative to the activation (with <see cref="CnnLayer.BatchNorm"/>). Default before it.</summary>
    public BatchNormPlacement BatchNormPlacement { get; set; } = BatchNormPlacement.BeforeActivation;

    /// <summary>Padding mode. Default <see cref="PaddingMode.Same"/>.</summary>
    public PaddingMode Padding { get; set; } = PaddingMode.Same;
    /// <summary>Pixels of zero padding per side when <see cref="Padding"/> is <see cref="PaddingMode.Explicit"/>.</summary>
    public int PaddingSize { get; set; }

    internal override void Validate(int index)
    {
        base.Validate(index);
        if (PaddingSize < 0)
            throw new ArgumentOutOfRangeException(nameof(PaddingSize), PaddingSize, $"Layers[{index}].PaddingSize must be >= 0. Received: PaddingSize={PaddingSize}");
    }
}

/// <summary>
/// A residual (skip-connection) block: conv → BN → act → conv → BN, plus the input (through a 1×1
/// convolution when channels or stride change), then the activation; "same" padding; then optional
/// pooling and dropout. Skip connections let gradients reach early layers of deep nets.
/// </summary>
public sealed class ResidualBlock : CnnLayer
{
    /// <summary>Creates a residual block with 32 filters.</summary>
    public ResidualBlock() { }

    /// <summary>Creates a residual block with the given filters and stride.</summary>
    public ResidualBlock(int filters, int stride = 1)
    {
        Filters = filters;
        Stride = stride;
    }
}

/// <summary>How the convolutional body's output becomes a vector for the dense head.</summary>
public enum FlattenMode
{
    /// <summary>Flatten channels × height × width.</summary>
    Flatten,
    /// <summary>Average each channel over the image (global average pooling).</summary>
    GlobalAveragePool,
}

