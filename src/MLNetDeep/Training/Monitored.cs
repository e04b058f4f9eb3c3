using System.Text.Json.Serialization;
using MLNetDeep.Tasks;

namespace MLNetDeep.Training;

/// <summary>Where a <see cref="Monitored"/> figure is read from.</summary>
public enum MonitorSource
{
    /// <summary>The epoch's mean training loss.</summary>
    TrainingLoss,
    /// <summary>The loss on the validation data (plain task loss: no label smoothing or class weights).</summary>
    ValidationLoss,
    /// <summary>A validation metric the task reports, by name (e.g. "accuracy", "rmse").</summary>
    ValidationMetric,
}

/// <summary>
/// A figure of a finished epoch that early stopping, reduce-on-plateau and sweeps watch: the training loss, the
/// validation loss, or a named validation metric. Whether higher is better is declared by the task (losses go down;
/// accuracy goes up, rmse down, ...), never guessed from the name.
/// </summary>
/// <example><c>new EarlyStoppingOptions { Monitor = Monitored.ValidationMetric("accuracy"), Patience = 3 }</c></example>
public sealed class Monitored : IEquatable<Monitored>
{
    [JsonConstructor]
    private Monitored(MonitorSource source, string? metricName)
    {
        if (!Enum.IsDefined(source))
            throw new ArgumentOutOfRangeException(nameof(source), source, $"Unknown monitor source. Received: source={source}");
        if (source == MonitorSource.ValidationMetric && string.IsNullOrWhiteSpace(metricName))
            throw new ArgumentException("Monitored.ValidationMetric needs a metric name (e.g. \"accuracy\"). Received: an empty name.", nameof(metricName));
        Source = source;
        MetricName = source == MonitorSource.ValidationMetric ? metricName : null;
    }

    /// <summary>Where the figure comes from.</summary>
    public MonitorSource Source { get; }

    /// <summary>The metric's name for <see cref="MonitorSource.ValidationMetric"/>; null otherwise.</summary>
    public string? MetricName { get; }

    /// <summary>The epoch's mean training loss (lower is better).</summary>
    public static Monitored TrainingLoss { get; } = new(MonitorSource.TrainingLoss, null);

    /// <summary>The validation loss (lower is better). Needs validation data or a validation fraction.</summary>
    public static Monitored ValidationLoss { get; } = new(MonitorSource.ValidationLoss, null);

    /// <summary>
    /// A validation metric the task reports: "accuracy" (classification, tagging), "sequence_accuracy" (tagging),
    /// "rmse" and "mae" (regression). Its direction comes from the task.
    /// </summary>
    public static Monitored ValidationMetric(string name) => new(MonitorSource.ValidationMetric, name);

    /// <summary>True when the figure is computed on validation data.</summary>
    [JsonIgnore] public bool NeedsValidation => Source != MonitorSource.TrainingLoss;

    /// <summary>
    /// Whether higher values are better for a model of <paramref name="task"/>: false for losses; for a metric, as the
    /// task declares it. Throws, listing the task's metrics, when the task reports no metric of that name.
    /// </summary>
    public bool IsHigherBetter(PredictionKind task) => Source switch
    {
        MonitorSource.ValidationMetric => TaskHead.For(task).Metric(MetricName!, "Monitor").HigherIsBetter,
        _ => false,
    };

    /// <summary>The figure in <paramref name="summary"/>, or null when the epoch has none (no validation data).</summary>
    public double? Read(EpochSummary summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        return Source switch
        {
            MonitorSource.TrainingLoss => summary.TrainLoss,
            MonitorSource.ValidationLoss => summary.ValidationLoss,
            _ => summary.ValidationMetrics.TryGetValue(MetricName!, out var v) ? v : null,
        };
    }

    /// <summary>Checks that a run of <paramref name="task"/> reports this figure; throws naming <paramref name="option"/> and the fix.</summary>
    internal void Check(PredictionKind task, bool hasValidation, string option)
    {
        if (NeedsValidation && !hasValidation)
            throw new ArgumentException(
                $"{option} = {this} needs validation data, and this run has none. " +
                "Set ValidationData or ValidationFraction (e.g. 0.1), or monitor Monitored.TrainingLoss.", option);
        if (Source == MonitorSource.ValidationMetric) TaskHead.For(task).Metric(MetricName!, option);
    }

    /// <summary>The figure's name in logs and the history: "loss", "val_loss" or "val_" + the metric.</summary>
    public override string ToString() => Source switch
    {
        MonitorSource.TrainingLoss => "loss",
        MonitorSource.ValidationLoss => "val_loss",
        _ => "val_" + MetricName,
    };

    /// <inheritdoc />
    public bool Equals(Monitored? other) => other is not null && other.Source == Source && other.MetricName == MetricName;
    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Monitored);
    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Source, MetricName);

    /// <summary>
    /// Monitors used to be strings ("val_loss", "loss", "val_accuracy"), and "loss" meant the validation loss in sweeps
    /// but the training loss in early stopping. They are typed now; this conversion only says which one to write.
    /// </summary>
    [Obsolete("Monitors are typed: use Monitored.ValidationLoss, Monitored.TrainingLoss or Monitored.ValidationMetric(\"accuracy\") instead of a string.", error: true)]
    public static implicit operator Monitored(string name) => throw Renamed(name);

    /// <summary>The error for an old string spelling, naming its typed replacement.</summary>
    internal static ArgumentException Renamed(string? name)
    {
        string replacement = name switch
        {
            "val_loss" => "Monitored.ValidationLoss",
            "loss" => "Monitored.TrainingLoss for the training loss, or Monitored.ValidationLoss for the validation loss (sweeps used \"loss\" for the latter)",
            string s when s.StartsWith("val_", StringComparison.Ordinal) => $"Monitored.ValidationMetric(\"{s[4..]}\")",
            _ => "Monitored.ValidationLoss, Monitored.TrainingLoss or Monitored.ValidationMetric(\"accuracy\")",
        };
        return new ArgumentException($"Monitors are typed, not strings. Received: \"{name}\". Use {replacement}.", nameof(name));
    }
}

/// <summary>A validation metric a task reports every epoch, and its direction.</summary>
/// <param name="Name">The key in <see cref="EpochSummary.ValidationMetrics"/>.</param>
/// <param name="HigherIsBetter">True for accuracies, false for errors.</param>
public sealed record MetricInfo(string Name, bool HigherIsBetter);
