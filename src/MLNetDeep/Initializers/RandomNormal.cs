using MLNetDeep.Initializers;
using static TorchSharp.torch;

namespace MLNetDeep.Initializers;

/// <summary>
/// Normal(0, <see cref="Std"/>) weights regardless of layer size: the "small random initialisation" of early
/// deep-learning experiments, which makes deep sigmoid nets' gradients vanish. Useful to reproduce that
/// failure; for real training prefer the variance-scaling initializers (He, Glorot).
/// Not registered for JSON (initializers are not saved with models).
/// </summary>
public sealed class RandomNormal : Initializer
{
    /// <summary>Standard deviation. Default 0.01.</summary>
    public double Std { get; init; } = 0.01;

    /// <inheritdoc />
    public override string Name => "random_normal";

    /// <inheritdoc />
    public override void Initialize(Tensor weight)
    {
        if (!(Std > 0) || double.IsInfinity(Std))
            throw new ArgumentOutOfRangeException(nameof(Std), Std, $"RandomNormal.Std must be a finite number > 0. Received: Std={Std}");
        using (no_grad()) weight.normal_(0, Std);
    }
}
