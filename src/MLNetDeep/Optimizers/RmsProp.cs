using TorchSharp;

namespace MLNetDeep.Optimizers;

/// <summary>
/// RMSprop (Hinton, 2012): divides the gradient by a running root-mean-square of recent gradients.
/// Defaults as Keras: lr 0.001, ρ 0.9, momentum 0, ε 1e-7, not centred.
/// </summary>
/// <remarks>
/// Update (PyTorch's form): g ← ∇ + λ·w; v ← ρ·v + (1−ρ)·g²; centred: ḡ ← ρ·ḡ + (1−ρ)·g and d = √(v − ḡ²) + ε,
/// otherwise d = √v + ε; with momentum b ← μ·b + g/d, w ← w − lr·b; without, w ← w − lr·g/d.
/// Keras puts ε inside the square root; the two agree unless gradients are ~√ε small.
/// </remarks>
public sealed class RmsProp : Optimizer
{
    /// <summary>Decay of the running average of squared gradients (PyTorch's <c>alpha</c>). Default 0.9.</summary>
    public double Rho { get; init; } = 0.9;
    /// <summary>Momentum factor in [0, 1) applied to the normalised step. Default 0.</summary>
    public double Momentum { get; init; }
    /// <summary>Numerical-stability term added to the denominator. Default 1e-7.</summary>
    public double Epsilon { get; init; } = 1e-7;
    /// <summary>Normalise by the estimated variance (v − ḡ²) instead of the uncentred second moment; steadier, a little slower.</summary>
    public bool Centered { get; init; }
    /// <summary>Coupled weight decay λ: λ·w is added to the gradient. Default 0.</summary>
    public double CoupledWeightDecay { get; init; }

    /// <inheritdoc />
    public override string Name => "rmsprop";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(Rho >= 0 && Rho < 1, nameof(Rho), Rho, "must be in [0, 1)");
        Require(Momentum >= 0 && Momentum < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        Require(Epsilon > 0, nameof(Epsilon), Epsilon, "must be > 0");
        RequireWeightDecay(CoupledWeightDecay, nameof(CoupledWeightDecay));
    }

    /// <inheritdoc />
    public override IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups)
    {
        Validate();
        return new TorchOptimizerUpdater(groups, ps => torch.optim.RMSProp(ps, LearningRate, alpha: Rho, eps: Epsilon,
            weight_decay: CoupledWeightDecay, momentum: Momentum, centered: Centered));
    }
}
