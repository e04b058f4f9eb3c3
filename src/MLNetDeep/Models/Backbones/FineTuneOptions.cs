using MLNetDeep.Augmentation;

namespace MLNetDeep.Models.Backbones;

/// <summary>
/// The second phase of transfer learning with a <see cref="Backbone"/> (Keras' "unfreeze the top of the base model,
/// recompile with a lower learning rate, fit again"): after <c>Epochs</c> epochs that train only the head on the
/// frozen backbone, the top <see cref="TrainableBlocks"/> blocks are unfrozen and trained with the head for
/// <see cref="Epochs"/> more epochs, at <see cref="LearningRateMultiplier"/> × the learning rate. Both phases run in one
/// <c>Fit</c> and show in the history (<c>EpochSummary.Phase</c>, <c>TrainingHistory.Phases</c>) and the log.
/// </summary>
public sealed class FineTuneOptions
{
    /// <summary>Epochs of the fine-tuning phase. Default 5.</summary>
    public int Epochs { get; init; } = 5;

    /// <summary>How many of the backbone's top blocks are trained (ResNet18 has 10: the stem and 9 residual units). Default 2.</summary>
    public int TrainableBlocks { get; init; } = 2;

    /// <summary>Learning-rate multiplier of the unfrozen blocks (the scheduled rate × this). Default 0.1.</summary>
    public double LearningRateMultiplier { get; init; } = 0.1;

    /// <summary>Learning-rate multiplier of the head in this phase. Default 1.</summary>
    public double HeadLearningRateMultiplier { get; init; } = 1.0;

    /// <summary>
    /// Let the unfrozen blocks' batch norms use batch statistics and update their running ones (train mode). Default
    /// false: they keep the pretrained statistics (inference mode), as Keras advises for fine-tuning on small data sets;
    /// their scale and shift still train.
    /// </summary>
    public bool UpdateBatchNormStatistics { get; init; }

    /// <summary>
    /// Augmentation of this phase only (null = <c>CnnOptions.Augmentation</c>, which applies to both phases). With 200
    /// training images the head phase fits them almost perfectly on the frozen features, so fine-tuning on the same
    /// unchanged images has next to nothing left to learn from: augmenting them here gives the unfrozen blocks a signal
    /// while the head phase still trains on the cached outputs. An augmented phase runs the whole backbone on every step
    /// (its frozen blocks in eval mode, without gradients), so it costs a forward pass of the frozen blocks per row and epoch.
    /// </summary>
    public ImageAugmentation? Augmentation { get; init; }

    internal void Validate(int blocks)
    {
        if (Epochs <= 0)
            throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, $"FineTune.Epochs must be > 0 (the epochs of the fine-tuning phase). Received: Epochs={Epochs}");
        if (TrainableBlocks <= 0 || TrainableBlocks > blocks)
            throw new ArgumentOutOfRangeException(nameof(TrainableBlocks), TrainableBlocks,
                $"FineTune.TrainableBlocks must be between 1 and the backbone's {blocks} blocks. Received: TrainableBlocks={TrainableBlocks}");
        Multiplier(LearningRateMultiplier, nameof(LearningRateMultiplier));
        Multiplier(HeadLearningRateMultiplier, nameof(HeadLearningRateMultiplier));
        Augmentation?.Validate();
    }

    private static void Multiplier(double m, string name)
    {
        if (!(m >= 0) || double.IsInfinity(m))
            throw new ArgumentOutOfRangeException(name, m, $"FineTune.{name} must be a finite number >= 0 (e.g. 0.1). Received: {name}={m}");
    }
}
