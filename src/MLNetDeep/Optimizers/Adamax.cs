using TorchSharp;

namespace MLNetDeep.Optimizers;

/// <summary>
/// Adamax (Kingma &amp; Ba, 2015, §7.1): Adam with the infinity norm in place of the second moment.
/// Defaults as Keras: lr 0.001, β1 0.9, β2 0.999, ε 1e-7.
/// </summary>
/// <remarks>
/// Update (PyTorch's form): g ← ∇ + λ·w; m ← β1·m + (1−β1)·g; u ← max(β2·u, |g| + ε);
/// w ← w − lr/(1−β1ᵗ) · m/u.
/// </remarks>
public sealed class Adamax : Optimizer
{
    /// <summary>Decay of the first-moment estimate.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Decay of the exponentially weighted infinity norm.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Numerical-stability term. Default 1e-7.</summary>
    public double Epsilon { get; init; } = 1e-7;
    /// <summary>Coupled weight decay λ: λ·w is added to the gradient. Default 0.</summary>
    public double CoupledWeightDecay { get; init; }

    /// <inheritdoc />
    public override string Name => "adamax";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(Beta1 >= 0 && Beta1 < 1, nameof(Beta1), Beta1, "must be in [0, 1)");
        Require(Beta2 >= 0 && Beta2 < 1, nameof(Beta2), Beta2, "must be in [0, 1)");
        Require(Epsilon > 0, nameof(Epsilon), Epsilon, "must be > 0");
        RequireWeightDecay(CoupledWeightDecay, nameof(CoupledWeightDecay));
    }

    /// <inheritdoc />
    public override IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups)
    {
        Validate();
        return new TorchOptimizerUpdater(groups, ps => torch.optim.Adamax(ps, LearningRate, Beta1, Beta2, Epsilon, weight_decay: CoupledWeightDecay));
    }
}
