using TorchSharp;

namespace MLNetDeep.Training;

/// <summary>
/// A hook into the training loop (skorch-style). Override what you need; every method does nothing by default.
/// Set <see cref="TrainingContext.StopTraining"/> to end training after the current epoch.
/// </summary>
public abstract class TrainingCallback
{
    /// <summary>Before the first epoch.</summary>
    public virtual void OnTrainBegin(TrainingContext context) { }
    /// <summary>Before each epoch (<paramref name="epoch"/> is 1-based).</summary>
    public virtual void OnEpochBegin(TrainingContext context, int epoch) { }
    /// <summary>After backward() and before the optimizer step: gradients are on the parameters.</summary>
    public virtual void OnGradientsComputed(TrainingContext context) { }
    /// <summary>After penalty gradients and clipping, just before the optimizer step: the gradients the optimizer will apply.</summary>
    public virtual void OnBeforeStep(TrainingContext context) { }
    /// <summary>After each optimizer step, with that batch's mean loss.</summary>
    public virtual void OnBatchEnd(TrainingContext context, int batch, double loss) { }
    /// <summary>After each epoch, with its figures (validation included).</summary>
    public virtual void OnEpochEnd(TrainingContext context, EpochSummary summary) { }
    /// <summary>After the last epoch.</summary>
    public virtual void OnTrainEnd(TrainingContext context) { }
}

/// <summary>What a callback can see and steer during training.</summary>
public sealed class TrainingContext
{
    internal TrainingContext(torch.nn.Module network, TrainingHistory history, TrainerOptions options)
    {
        Network = network;
        History = history;
        Options = options;
    }

    /// <summary>The network being trained.</summary>
    public torch.nn.Module Network { get; }
    /// <summary>The history so far.</summary>
    public TrainingHistory History { get; }
    /// <summary>The (read-only in spirit) options of this run.</summary>
    public TrainerOptions Options { get; }
    /// <summary>Current 1-based epoch.</summary>
    public int Epoch { get; internal set; }
    /// <summary>Global batch index (0-based) of the step in progress.</summary>
    public long GlobalStep { get; internal set; }
    /// <summary>Learning rate of the step in progress.</summary>
    public double LearningRate { get; internal set; }
    /// <summary>Global gradient norm of the step in progress before clipping (set only when Regularization.GradientClipNorm is on).</summary>
    public double? GradientNorm { get; internal set; }
    /// <summary>Set to true to stop after the current epoch.</summary>
    public bool StopTraining { get; set; }
    /// <summary>Why training was stopped (recorded in the history).</summary>
    public string? StopReason { get; set; }
}
