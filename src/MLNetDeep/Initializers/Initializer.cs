using System.Text.Json.Serialization;
using MLNetDeep.Activations;
using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>
/// Fills a layer's weight tensor before training. Biases are always set to zero. Subclasses are typed
/// options; the default (<c>null</c> in the trainer options) picks one by activation:
/// He for the ReLU family, Glorot for tanh/sigmoid, LeCun for SELU.
/// </summary>
/// <remarks>
/// Variance-scaling initializers draw weights with mean 0 and variance Scale / fan. The normal variants draw from an
/// untruncated normal (as PyTorch); Keras draws from a normal truncated at 2σ and rescaled to the same variance.
/// <see cref="Constant"/> and <see cref="Zeros"/> are for biases and normalisation parameters (1-D tensors); they
/// refuse weight matrices, because equal weights get equal gradients and never become different.
/// </remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(GlorotUniform), "glorot_uniform")]
[JsonDerivedType(typeof(GlorotNormal), "glorot_normal")]
[JsonDerivedType(typeof(HeUniform), "he_uniform")]
[JsonDerivedType(typeof(HeNormal), "he_normal")]
[JsonDerivedType(typeof(LeCunUniform), "lecun_uniform")]
[JsonDerivedType(typeof(LeCunNormal), "lecun_normal")]
[JsonDerivedType(typeof(Orthogonal), "orthogonal")]
[JsonDerivedType(typeof(Constant), "constant")]
[JsonDerivedType(typeof(Zeros), "zeros")]
public abstract class Initializer
{
    /// <summary>Fills <paramref name="weight"/> in place (called under no_grad, with the global torch seed set).</summary>
    public abstract void Initialize(Tensor weight);

    /// <summary>Lower-case registry name.</summary>
    [JsonIgnore]
    public abstract string Name { get; }

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>
    /// Fan-in and fan-out of a weight tensor: Linear [out, in]; ConvNd [out, in, k...] (receptive field
    /// multiplies both); recurrent [gates·hidden, in].
    /// </summary>
    public static (double FanIn, double FanOut) Fans(Tensor weight)
    {
        var shape = weight.shape;
        if (shape.Length < 2)
            throw new ArgumentException($"Fan-in/fan-out need a weight of at least 2 dimensions. Received: shape=[{string.Join(", ", shape)}]");
        double receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>The initializer that suits <paramref name="activation"/> (normal variants, as Keras' docs advise for deep nets).</summary>
    public static Initializer ForActivation(Activation? activation) => (activation?.PreferredInit ?? InitFamily.Glorot) switch
    {
        InitFamily.He => new HeNormal(),
        InitFamily.LeCun => new LeCunNormal(),
        _ => new GlorotUniform(),
    };
}

/// <summary>Which fan a variance-scaling initializer divides by.</summary>
public enum FanMode
{
    /// <summary>Keeps forward activations' variance (He, LeCun).</summary>
    FanIn,
    /// <summary>Keeps backward gradients' variance.</summary>
    FanOut,
    /// <summary>Average of both (Glorot/Xavier).</summary>
    FanAvg,
}

/// <summary>Shared variance-scaling arithmetic: variance = Scale / fan.</summary>
public abstract class VarianceScaling : Initializer
{
    /// <summary>Numerator of the variance.</summary>
    public double Scale { get; init; } = 1.0;
    /// <summary>Which fan to divide by.</summary>
    public FanMode FanMode { get; init; } = FanMode.FanAvg;

    /// <summary>The target variance of the weights for this tensor.</summary>
    public double Variance(Tensor weight)
    {
        if (!(Scale > 0)) throw new ArgumentOutOfRangeException(nameof(Scale), Scale, $"{GetType().Name}.Scale must be > 0. Received: Scale={Scale}");
        var (fanIn, fanOut) = Fans(weight);
        double fan = FanMode switch { FanMode.FanIn => fanIn, FanMode.FanOut => fanOut, _ => (fanIn + fanOut) / 2 };
        return Scale / Math.Max(1.0, fan);
    }

    /// <summary>Uniform on [−limit, limit] with limit = sqrt(3·variance).</summary>
    protected void FillUniform(Tensor weight)
    {
        double limit = Math.Sqrt(3.0 * Variance(weight));
        using (no_grad()) weight.uniform_(-limit, limit);
    }

    /// <summary>Normal(0, sqrt(variance)).</summary>
    protected void FillNormal(Tensor weight)
    {
        double std = Math.Sqrt(Variance(weight));
        using (no_grad()) weight.normal_(0, std);
    }
}
