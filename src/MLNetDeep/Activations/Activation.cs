using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Activations;

/// <summary>
/// A non-linearity, chosen per block wherever a network takes one. Each subclass is a typed option
/// (with its own parameters, e.g. <see cref="LeakyRelu.Alpha"/>) that builds a TorchSharp module.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(Relu), "relu")]
[JsonDerivedType(typeof(LeakyRelu), "leaky_relu")]
[JsonDerivedType(typeof(Elu), "elu")]
[JsonDerivedType(typeof(Selu), "selu")]
[JsonDerivedType(typeof(Gelu), "gelu")]
[JsonDerivedType(typeof(Softplus), "softplus")]
[JsonDerivedType(typeof(Tanh), "tanh")]
[JsonDerivedType(typeof(Sigmoid), "sigmoid")]
[JsonDerivedType(typeof(Silu), "silu")]
[JsonDerivedType(typeof(Identity), "identity")]
public abstract class Activation
{
    /// <summary>Builds the module that applies this activation.</summary>
    public abstract nn.Module<Tensor, Tensor> CreateModule();

    /// <summary>The weight-initialisation family that keeps activations' variance stable through this non-linearity.</summary>
    [JsonIgnore]
    public virtual InitFamily PreferredInit => InitFamily.Glorot;

    /// <summary>A short lower-case name (used in logs and the registry).</summary>
    [JsonIgnore]
    public abstract string Name { get; }

    /// <inheritdoc />
    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>ReLU: max(0, x).</summary>
    public static Activation ReLU => new Relu();
    /// <summary>Hyperbolic tangent.</summary>
    public static Activation TanhActivation => new Tanh();
}

/// <summary>Which variance-preserving initialisation suits an activation.</summary>
public enum InitFamily
{
    /// <summary>Glorot/Xavier: tanh, sigmoid, softplus, linear.</summary>
    Glorot,
    /// <summary>He/Kaiming: the ReLU family (ReLU, leaky ReLU, ELU, GELU, SiLU).</summary>
    He,
    /// <summary>LeCun: SELU (self-normalising nets).</summary>
    LeCun,
}

/// <summary>max(0, x).</summary>
public sealed class Relu : Activation
{
    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> CreateModule() => nn.ReLU();
    /// <inheritdoc />
    public override InitFamily PreferredInit => InitFamily.He;
    /// <inheritdoc />
    public override string Name => "relu";
}

/// <summary>x if x &gt; 0, else Alpha·x.</summary>
public sealed class LeakyRelu : Activation
{
    /// <summary>Slope for negative inputs. Default 0.01 (PyTorch; Keras uses 0.3).</summary>
    public double Alpha { get; init; } = 0.01;
    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> CreateModule()
    {
        if (!(Alpha >= 0)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, $"LeakyRelu.Alpha must be >= 0. Received: Alpha={Alpha}");
        return nn.LeakyReLU(Alpha);
    }
    /// <inheritdoc />
    public override InitFamily PreferredInit => InitFamily.He;
    /// <inheritdoc />
    public override string Name => "leaky_relu";
}

/// <summary>x if x &gt; 0, else Alpha·(exp(x) − 1).</summary>
public sealed class Elu : Activation
{
    /// <summary>Saturation value for negative inputs. Default 1.</summary>
    public double Alpha { get; init; } = 1.0;
    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> CreateModule()
    {
        if (!(Alpha > 0)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, $"Elu.Alpha must be > 0. Received: Alpha={Alpha}");
        return nn.ELU(Alpha);
    }
    /// <inheritdoc />
    public override InitFamily PreferredInit => InitFamily.He;
    /// <inheritdoc />
    public override string Name => "elu";
}

/// <summary>Scaled ELU (self-normalising with LeCun-normal initialisation).</summary>
public sealed class Selu : Activation
{
    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> CreateModule() => nn.SELU();
    /// <inheritdoc />
    public override InitFamily PreferredInit => InitFamily.LeCun;
    /// <inheritdoc />
    public override string Name => "selu";
}

/// <summary>Gaussian error linear unit.</summary>
public sealed class Gelu : Activation
{
    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> CreateModule() => nn.GELU();
    /// <inheritdoc />
    public override InitFamily PreferredInit => InitFamily.He;
    /// <inheritdoc />
    public override string Name => "gelu";
}

/// <summary>log(1 + exp(x)), a smooth ReLU.</summary>
public sealed class Softplus : Activation
{
    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> CreateModule() => nn.Softplus();
    /// <inheritdoc />
    public override string Name => "softplus";
}

/// <summary>Hyperbolic tangent.</summary>
public sealed class Tanh : Activation
{
    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> CreateModule() => nn.Tanh();
    /// <inheritdoc />
    public override string Name => "tanh";
}

/// <summary>Logistic sigmoid 1/(1+exp(−x)).</summary>
public sealed class Sigmoid : Activation
{
    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> CreateModule() => nn.Sigmoid();
    /// <inheritdoc />
    public override string Name => "sigmoid";
}

/// <summary>SiLU / Swish: x·sigmoid(x) (Keras' "silu", also called "swish").</summary>
public sealed class Silu : Activation
{
    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> CreateModule() => nn.SiLU();
    /// <inheritdoc />
    public override InitFamily PreferredInit => InitFamily.He;
    /// <inheritdoc />
    public override string Name => "silu";
}

/// <summary>No non-linearity (linear layer).</summary>
public sealed class Identity : Activation
{
    /// <inheritdoc />
    public override nn.Module<Tensor, Tensor> CreateModule() => nn.Identity();
    /// <inheritdoc />
    public override string Name => "identity";
}
