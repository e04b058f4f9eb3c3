using TorchSharp;

namespace MLNetDeep.Optimizers;

/// <summary>
/// Nadam (Dozat, 2016): Adam with Nesterov momentum and the momentum-warming schedule
/// μₜ = β1·(1 − ½·0.96^(t·ψ)). Defaults as Keras: lr 0.001, β1 0.9, β2 0.999, ε 1e-7, ψ 0.004.
/// </summary>
/// <remarks>
/// Update (PyTorch's form): g ← ∇ + λ·w; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; d = √(v/(1−β2ᵗ)) + ε;
/// w ← w − lr·(1−μₜ)/(1−Πμ₁..ₜ)·g/d − lr·μₜ₊₁/(1−Πμ₁..ₜ₊₁)·m/d.
/// </remarks>
public sealed class Nadam : Optimizer
{
    /// <summary>Base momentum β1 (the schedule μₜ approaches it).</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Decay of the second-moment estimate.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Numerical-stability term. Default 1e-7.</summary>
    public double Epsilon { get; init; } = 1e-7;
    /// <summary>ψ of the momentum schedule (Keras hard-codes 0.004). Default 0.004.</summary>
    public double MomentumDecay { get; init; } = 0.004;
    /// <summary>Coupled weight decay λ: λ·w is added to the gradient. Default 0.</summary>
    public double CoupledWeightDecay { get; init; }

    /// <inheritdoc />
    public override string Name => "nadam";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(Beta1 >= 0 && Beta1 < 1, nameof(Beta1), Beta1, "must be in [0, 1)");
        Require(Beta2 >= 0 && Beta2 < 1, nameof(Beta2), Beta2, "must be in [0, 1)");
        Require(Epsilon > 0, nameof(Epsilon), Epsilon, "must be > 0");
        Require(MomentumDecay >= 0 && !double.IsInfinity(MomentumDecay), nameof(MomentumDecay), MomentumDecay, "must be a finite number >= 0");
        RequireWeightDecay(CoupledWeightDecay, nameof(CoupledWeightDecay));
    }

    /// <inheritdoc />
    public override IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups)
    {
        Validate();
        return new TorchOptimizerUpdater(groups, ps => torch.optim.NAdam(ps, LearningRate, Beta1, Beta2, Epsilon, weight_decay: CoupledWeightDecay, momentum_decay: MomentumDecay));
    }
}
