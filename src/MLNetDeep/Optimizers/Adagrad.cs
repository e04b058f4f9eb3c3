using TorchSharp;

namespace MLNetDeep.Optimizers;

/// <summary>
/// Adagrad (Duchi et al., 2011): per-parameter rates that shrink with the sum of past squared gradients,
/// so rarely-updated parameters keep larger steps. Defaults as Keras: lr 0.001, initial accumulator 0.1, ε 1e-7.
/// </summary>
/// <remarks>Update: g ← ∇ + λ·w; s ← s + g²; w ← w − lr·g / (√s + ε), with s starting at <see cref="InitialAccumulatorValue"/>.</remarks>
public sealed class Adagrad : Optimizer
{
    /// <summary>Starting value of the squared-gradient sums (&gt; 0 avoids huge first steps). Default 0.1.</summary>
    public double InitialAccumulatorValue { get; init; } = 0.1;
    /// <summary>Numerical-stability term added to the denominator. Default 1e-7.</summary>
    public double Epsilon { get; init; } = 1e-7;
    /// <summary>Coupled weight decay λ: λ·w is added to the gradient (and so enters the accumulator). Default 0.</summary>
    public double CoupledWeightDecay { get; init; }

    /// <inheritdoc />
    public override string Name => "adagrad";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(InitialAccumulatorValue >= 0 && !double.IsInfinity(InitialAccumulatorValue), nameof(InitialAccumulatorValue), InitialAccumulatorValue, "must be a finite number >= 0");
        Require(Epsilon > 0, nameof(Epsilon), Epsilon, "must be > 0");
        RequireWeightDecay(CoupledWeightDecay, nameof(CoupledWeightDecay));
    }

    /// <inheritdoc />
    public override IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups)
    {
        Validate();
        return new TorchOptimizerUpdater(groups, ps => torch.optim.Adagrad(ps, LearningRate, lr_decay: 0, weight_decay: CoupledWeightDecay,
            initial_accumulator_value: InitialAccumulatorValue, eps: Epsilon));
    }
}
