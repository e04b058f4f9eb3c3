namespace MLNetDeep.Regularization;

/// <summary>
/// Penalties, constraints and stabilisers applied during training (never during scoring). Every one is off
/// by default. Order inside a training step: backward → L1/L2 gradient terms → gradient clipping →
/// optimizer step → decoupled weight decay → max-norm constraint.
/// Dropout is an architecture option (<c>DenseHead.Dropout</c>, <c>CnnLayer.Dropout</c>) because it is part of the network.
/// </summary>
public sealed class RegularizationOptions
{
    /// <summary>
    /// Coupled L2 penalty on weights (not biases or batch-norm parameters): λ·w is added to each weight's
    /// gradient before the optimizer step, i.e. the loss gains λ/2·‖w‖². 0 disables it. With adaptive optimizers
    /// (Adam) the penalty is rescaled per parameter like any gradient; prefer <see cref="WeightDecay"/> there.
    /// </summary>
    public double L2 { get; init; }

    /// <summary>
    /// L1 penalty on weights (not biases or batch-norm parameters): λ·sign(w) is added to each weight's gradient,
    /// i.e. the loss gains λ·‖w‖₁. Drives unhelpful weights to (nearly) zero. 0 disables it.
    /// </summary>
    public double L1 { get; init; }

    /// <summary>
    /// Decoupled weight decay (Loshchilov &amp; Hutter, "AdamW"): after each optimizer step every weight shrinks by
    /// w ← w − lr·λ·w, independently of the gradient (so Adam does not rescale it). 0 disables it.
    /// </summary>
    public double WeightDecay { get; init; }

    /// <summary>
    /// Max-norm constraint (Srebro et al.; used with dropout by Hinton et al.): after every optimizer step the
    /// incoming weight vector of every unit (row of a Linear weight, filter of a convolution) is rescaled so its
    /// L2 norm is at most this value. Null disables it. Typical values 3–4.
    /// </summary>
    public double? MaxNorm { get; init; }

    /// <summary>
    /// Label smoothing for classification: the target puts 1 − ε on the true class and spreads ε over all classes
    /// (binary: targets become ε/2 and 1 − ε/2). Only the training loss is smoothed; validation loss is the plain
    /// loss. 0 disables it. Typical 0.1.
    /// </summary>
    public double LabelSmoothing { get; init; }

    /// <summary>
    /// Per-class loss weights for imbalanced classification, in key order (multiclass: one per class; binary:
    /// [negative, positive]). An example's loss is multiplied by its class's weight (and by its example weight).
    /// Only the training loss is weighted. Null = equal weights.
    /// </summary>
    public IReadOnlyList<double>? ClassWeights { get; init; }

    /// <summary>
    /// Weight each class by n / (classes · count of that class) in the training data (scikit-learn's "balanced").
    /// Ignored when <see cref="ClassWeights"/> is set.
    /// </summary>
    public bool BalanceClasses { get; init; }

    /// <summary>Clip every gradient element to [−v, v] before the optimizer step. Null disables it.</summary>
    public double? GradientClipValue { get; init; }

    /// <summary>
    /// Rescale all gradients together so their global L2 norm is at most this value (Pascanu et al., 2013), before
    /// the optimizer step. Null disables it. Applied after <see cref="GradientClipValue"/> when both are set.
    /// </summary>
    public double? GradientClipNorm { get; init; }

    /// <summary>
    /// What to do when the training diverges: the loss becomes NaN or infinite, or explodes past <see cref="DivergenceFactor"/>.
    /// Default <see cref="NonFiniteLossAction.Throw"/>.
    /// </summary>
    public NonFiniteLossAction OnNonFiniteLoss { get; init; } = NonFiniteLossAction.Throw;
    /// <summary>
    /// The run counts as diverged (as for a NaN loss) when the smoothed batch loss exceeds this multiple of the first batch's
    /// loss (e.g. Adam at a huge rate: a finite loss of 1e14 where the untrained network had 2.3). Default 1e4; null turns the
    /// check off (NaN and infinity still count).
    /// </summary>
    public double? DivergenceFactor { get; init; } = 1e4;

    internal bool HasClassWeights => ClassWeights is not null || BalanceClasses;

    internal void Validate()
    {
        static void Require(bool ok, string option, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, value, $"Regularization.{option} {rule}. Received: {option}={value}");
        }
        static bool Finite(double v) => double.IsFinite(v);
        Require(L2 >= 0 && Finite(L2), nameof(L2), L2, "must be a finite number >= 0");
        Require(L1 >= 0 && Finite(L1), nameof(L1), L1, "must be a finite number >= 0");
        Require(WeightDecay >= 0 && Finite(WeightDecay), nameof(WeightDecay), WeightDecay, "must be a finite number >= 0 (e.g. 1e-4)");
        if (MaxNorm is double m) Require(m > 0 && Finite(m), nameof(MaxNorm), m, "must be a finite number > 0 (e.g. 3), or null to disable it");
        Require(LabelSmoothing >= 0 && LabelSmoothing < 1, nameof(LabelSmoothing), LabelSmoothing, "must be in [0, 1) (e.g. 0.1)");
        if (GradientClipValue is double cv) Require(cv > 0 && Finite(cv), nameof(GradientClipValue), cv, "must be a finite number > 0 (e.g. 0.5), or null to disable it");
        if (GradientClipNorm is double cn) Require(cn > 0 && Finite(cn), nameof(GradientClipNorm), cn, "must be a finite number > 0 (e.g. 1.0), or null to disable it");
        if (ClassWeights is not null)
            for (int i = 0; i < ClassWeights.Count; i++)
                if (!(ClassWeights[i] >= 0) || double.IsInfinity(ClassWeights[i]))
                    throw new ArgumentOutOfRangeException(nameof(ClassWeights), ClassWeights[i],
                        $"Regularization.ClassWeights[{i}] must be a finite number >= 0. Received: ClassWeights[{i}]={ClassWeights[i]}");
        if (DivergenceFactor is double f) Require(f > 1 && Finite(f), nameof(DivergenceFactor), f, "must be a finite number > 1 (e.g. 1e4), or null to check only for NaN and infinity");
        if (!Enum.IsDefined(OnNonFiniteLoss))
            throw new ArgumentOutOfRangeException(nameof(OnNonFiniteLoss), OnNonFiniteLoss, $"Regularization.OnNonFiniteLoss is not a known action. Received: OnNonFiniteLoss={OnNonFiniteLoss}");
    }
}

/// <summary>What the trainer does when the training loss becomes NaN or infinite.</summary>
public enum NonFiniteLossAction
{
    /// <summary>
    /// Throw <c>TrainingDivergedException</c> naming the epoch, step and likely causes; the exception carries the
    /// best model seen so far (by validation loss, else training loss) when at least one epoch finished.
    /// </summary>
    Throw,
    /// <summary>Stop training, restore the best weights seen so far and return that model; the history's StopReason says why.</summary>
    StopAndRestoreBest,
}
