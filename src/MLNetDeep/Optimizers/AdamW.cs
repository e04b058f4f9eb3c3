using TorchSharp;

namespace MLNetDeep.Optimizers;

/// <summary>
/// AdamW: Adam with decoupled weight decay (Loshchilov &amp; Hutter, 2019). Defaults as Keras: lr 0.001,
/// weight decay 0.004, β1 0.9, β2 0.999, ε 1e-7.
/// </summary>
/// <remarks>
/// Update: w ← w − lr·λ·w (the decay, outside the adaptive rescaling), then the <see cref="Adam"/> step
/// on the plain gradient. The decay is scaled by the current (scheduled) rate, as in PyTorch and Keras.
/// </remarks>
public sealed class AdamW : Optimizer
{
    /// <summary>Decay of the first-moment estimate.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Decay of the second-moment estimate.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Numerical-stability term added to the denominator.</summary>
    public double Epsilon { get; init; } = 1e-7;
    /// <summary>Use the AMSGrad variant.</summary>
    public bool Amsgrad { get; init; }
    /// <summary>
    /// Decoupled weight decay λ: every step multiplies each parameter (biases included) by (1 − lr·λ),
    /// independently of its gradient statistics. Default 0.004 (Keras; PyTorch uses 0.01).
    /// </summary>
    public double DecoupledWeightDecay { get; init; } = 0.004;

    /// <inheritdoc />
    public override string Name => "adamw";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(Beta1 >= 0 && Beta1 < 1, nameof(Beta1), Beta1, "must be in [0, 1)");
        Require(Beta2 >= 0 && Beta2 < 1, nameof(Beta2), Beta2, "must be in [0, 1)");
        Require(Epsilon > 0, nameof(Epsilon), Epsilon, "must be > 0");
        RequireWeightDecay(DecoupledWeightDecay, nameof(DecoupledWeightDecay));
    }

    /// <inheritdoc />
    public override IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups)
    {
        Validate();
        return new TorchOptimizerUpdater(groups, ps => torch.optim.AdamW(ps, LearningRate, Beta1, Beta2, Epsilon, weight_decay: DecoupledWeightDecay, amsgrad: Amsgrad));
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}(lr={LearningRate:G4}, decoupled_wd={DecoupledWeightDecay:G3})";
}
