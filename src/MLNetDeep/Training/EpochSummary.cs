using System.Globalization;
using System.Text;

namespace MLNetDeep.Training;

/// <summary>The figures of one finished epoch: what the log line shows and what the history keeps.</summary>
public sealed class EpochSummary
{
    /// <summary>1-based epoch number.</summary>
    public int Epoch { get; init; }
    /// <summary>Epochs planned for this run.</summary>
    public int Epochs { get; init; }
    /// <summary>Mean (example-weighted) training loss over the epoch.</summary>
    public double TrainLoss { get; init; }
    /// <summary>Validation loss, when validation data is given.</summary>
    public double? ValidationLoss { get; init; }
    /// <summary>Validation metrics by name ("accuracy" for classification, "rmse"/"mae" for regression).</summary>
    public IReadOnlyDictionary<string, double> ValidationMetrics { get; init; } = new Dictionary<string, double>();
    /// <summary>Learning rate used by the last step of the epoch.</summary>
    public double LearningRate { get; init; }
    /// <summary>Wall time of this epoch (training and validation).</summary>
    public TimeSpan Duration { get; init; }
    /// <summary>Estimated time left for the remaining epochs.</summary>
    public TimeSpan EstimatedRemaining { get; init; }
    /// <summary>Training rows seen per second in this epoch.</summary>
    public double SamplesPerSecond { get; init; }
    /// <summary>The phase of a multi-phase fit this epoch belongs to (e.g. "head", "fine-tune"); null for a single-phase fit.</summary>
    public string? Phase { get; init; }

    /// <summary>The progress line written to the ML.NET log.</summary>
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        if (Phase is not null) sb.Append(ci, $"[{Phase}] ");
        sb.Append(ci, $"epoch {Epoch}/{Epochs}  loss {TrainLoss:F4}");
        if (ValidationLoss is double vl) sb.Append(ci, $"  val_loss {vl:F4}");
        foreach (var (k, v) in ValidationMetrics) sb.Append(ci, $"  val_{k} {v:F4}");
        sb.Append(ci, $"  lr {LearningRate:0.###e+0}  {Duration.TotalSeconds:F1}s  {SamplesPerSecond:F0} rows/s  ETA {FormatSpan(EstimatedRemaining)}");
        return sb.ToString();
    }

    private static string FormatSpan(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:00}s" : $"{t.TotalSeconds:F0}s";
}

/// <summary>Everything that happened in one training run, kept on the trained transformer.</summary>
public sealed class TrainingHistory
{
    /// <summary>One entry per finished epoch.</summary>
    public List<EpochSummary> Epochs { get; init; } = new();
    /// <summary>Why training ended ("completed all epochs", "stopped early: …").</summary>
    public string StopReason { get; set; } = "";
    /// <summary>Training rows used.</summary>
    public long TrainingRows { get; init; }
    /// <summary>Validation rows used (0 when none).</summary>
    public long ValidationRows { get; init; }
    /// <summary>Total wall time of the run.</summary>
    public TimeSpan TotalDuration { get; set; }
    /// <summary>The last epoch that ran (equals the number of epochs in <see cref="Epochs"/>).</summary>
    public int StoppedEpoch { get; set; }
    /// <summary>The best epoch by the early-stopping monitor (else by validation loss, else training loss); null when no epoch finished.</summary>
    public int? BestEpoch { get; set; }
    /// <summary>The epoch whose weights the trained model holds when they were restored (early stopping, divergence); null = the last epoch's.</summary>
    public int? RestoredEpoch { get; set; }
    /// <summary>Per-epoch, per-layer diagnostics when <c>TrainerOptions.Diagnostics</c> is set.</summary>
    public List<MLNetDeep.Diagnostics.EpochDiagnostics> Diagnostics { get; init; } = new();
    /// <summary>Reconstruction errors of layer-wise pretraining, when <c>TrainerOptions.Pretraining</c> is set.</summary>
    public List<MLNetDeep.Pretraining.PretrainingLayerResult> Pretraining { get; init; } = new();
    /// <summary>The phases of a multi-phase fit (a backbone's head phase, then fine-tuning), in order; empty for a single-phase fit.</summary>
    public List<TrainingPhase> Phases { get; init; } = new();
}

/// <summary>One phase of a multi-phase fit: which epochs, what trained, and what it cost.</summary>
public sealed class TrainingPhase
{
    /// <summary>Short name, as in <see cref="EpochSummary.Phase"/> ("head", "fine-tune").</summary>
    public string Name { get; init; } = "";
    /// <summary>What the phase trained, e.g. "head on the frozen ResNet18 (blocks 0-9 frozen)".</summary>
    public string Description { get; init; } = "";
    /// <summary>First epoch of the phase in <see cref="TrainingHistory.Epochs"/> (1-based).</summary>
    public int FirstEpoch { get; init; }
    /// <summary>Last epoch of the phase (equals FirstEpoch − 1 when it ran none).</summary>
    public int LastEpoch { get; init; }
    /// <summary>Backbone blocks that were frozen.</summary>
    public int FrozenBlocks { get; init; }
    /// <summary>True when the phase trained on the frozen blocks' outputs computed once per row (no augmentation then).</summary>
    public bool CachedFeatures { get; init; }
    /// <summary>Seconds spent computing the frozen blocks' outputs for this phase (0 when it reused them or did not cache).</summary>
    public double CacheSeconds { get; init; }
    /// <summary>Why the phase ended.</summary>
    public string StopReason { get; init; } = "";
}
