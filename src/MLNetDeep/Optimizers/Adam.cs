using TorchSharp;

namespace MLNetDeep.Optimizers;

/// <summary>
/// Adam (Kingma &amp; Ba, 2015). Defaults as Keras: lr 0.001, β1 0.9, β2 0.999, ε 1e-7, no AMSGrad.
/// </summary>
/// <remarks>
/// Update (PyTorch's form): g ← ∇ + λ·w; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// w ← w − lr·(m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε). AMSGrad uses max(v) over past steps in place of v.
/// ε is added to the bias-corrected √v (Keras adds it to the uncorrected one), which matters only when ε is large.
/// </remarks>
public sealed class Adam : Optimizer
{
    /// <summary>Decay of the first-moment (mean) estimate.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Decay of the second-moment (uncentred variance) estimate.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Numerical-stability term added to the denominator.</summary>
    public double Epsilon { get; init; } = 1e-7;
    /// <summary>Use the AMSGrad variant (max of past second moments).</summary>
    public bool Amsgrad { get; init; }
    /// <summary>
    /// Coupled weight decay λ: λ·w is added to the gradient, so Adam rescales it per coordinate like any gradient
    /// (weights with large gradients are barely decayed). For decay that acts as intended use <see cref="AdamW"/>. Default 0.
    /// </summary>
    public double CoupledWeightDecay { get; init; }

    /// <inheritdoc />
    public override string Name => "adam";

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
        return new TorchOptimizerUpdater(groups, ps => torch.optim.Adam(ps, LearningRate, Beta1, Beta2, Epsilon, weight_decay: CoupledWeightDecay, amsgrad: Amsgrad));
    }
}
