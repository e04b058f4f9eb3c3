using TorchSharp;

namespace MLNetDeep.Optimizers;

/// <summary>
/// Adadelta (Zeiler, 2012): Adagrad's shrinking rates replaced by a decaying window of squared gradients and
/// squared updates, so the step has the units of the parameter. Defaults as Keras: lr 0.001, ρ 0.95, ε 1e-7.
/// </summary>
/// <remarks>
/// Update: g ← ∇ + λ·w; v ← ρ·v + (1−ρ)·g²; Δ ← √(u + ε) / √(v + ε) · g; u ← ρ·u + (1−ρ)·Δ²; w ← w − lr·Δ.
/// The paper has no learning rate (lr = 1, PyTorch's default); Keras' 0.001 makes it very slow, so set
/// <see cref="Optimizer.LearningRate"/> = 1.0 to match the paper.
/// </remarks>
public sealed class Adadelta : Optimizer
{
    /// <summary>Decay rate of both running averages. Default 0.95.</summary>
    public double Rho { get; init; } = 0.95;
    /// <summary>Added inside both square roots; also sets the size of the first steps. Default 1e-7.</summary>
    public double Epsilon { get; init; } = 1e-7;
    /// <summary>Coupled weight decay λ: λ·w is added to the gradient. Default 0.</summary>
    public double CoupledWeightDecay { get; init; }

    /// <inheritdoc />
    public override string Name => "adadelta";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(Rho >= 0 && Rho < 1, nameof(Rho), Rho, "must be in [0, 1)");
        Require(Epsilon > 0, nameof(Epsilon), Epsilon, "must be > 0");
        RequireWeightDecay(CoupledWeightDecay, nameof(CoupledWeightDecay));
    }

    /// <inheritdoc />
    public override IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups)
    {
        Validate();
        return new TorchOptimizerUpdater(groups, ps => torch.optim.Adadelta(ps, LearningRate, rho: Rho, eps: Epsilon, weight_decay: CoupledWeightDecay));
    }
}
