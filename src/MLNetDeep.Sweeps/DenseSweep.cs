using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models;
using MLNetDeep.Models.Dense;
using MLNetDeep.Optimizers;
using MLNetDeep.Regularization;
using MLNetDeep.Tasks;
using MLNetDeep.Training;

namespace MLNetDeep.Sweeps;

/// <summary>
/// The MLP trainer's default search space: learning rate, batch size, L2, the hidden layers' width and depth, dropout,
/// batch norm and skip connections. Each property's default is the trainer's own default, so
/// <c>new DenseSearchParameters()</c> describes <c>new MlpOptions()</c>. Override any range in code:
/// <c>DenseSweep.DefaultSpace().Range(p =&gt; p.LearningRate, 1e-4, 3e-2, logScale: true)</c>.
/// </summary>
public sealed class DenseSearchParameters
{
    /// <summary>Adam's learning rate (log scale).</summary>
    [Range(1e-4, 1e-2, logBase: true)] public double LearningRate { get; set; } = 1e-3;
    /// <summary>Rows per gradient step.</summary>
    [Choice(32, 64, 128, 256)] public int BatchSize { get; set; } = 64;
    /// <summary>L2 penalty on weights (log scale; the trainer's default is 0).</summary>
    [Range(1e-6, 1e-2, logBase: true)] public double L2 { get; set; }
    /// <summary>Units of every hidden layer.</summary>
    [Choice(64, 128, 256, 512)] public int Width { get; set; } = 128;
    /// <summary>Hidden layers (all of <see cref="Width"/> units).</summary>
    [Range(1, 4)] public int Depth { get; set; } = 2;
    /// <summary>Dropout after each hidden layer.</summary>
    [Range(0.0, 0.5)] public double Dropout { get; set; } = 0.1;
    /// <summary>Batch norm (before the activation) in every hidden layer.</summary>
    [Choice(false, true)] public bool BatchNorm { get; set; }
    /// <summary>Skip connections between the (equal-width) hidden layers; only takes effect with 2 or more layers.</summary>
    [Choice(false, true)] public bool Residual { get; set; }
}

/// <summary>One-line hyperparameter sweeps of the MLP trainers (multiclass, binary, regression).</summary>
public static class DenseSweep
{
    /// <summary>The trainer's defaults as a trial of <paramref name="space"/> (for <see cref="SweepOptions.InitialTrials"/>).</summary>
    public static TrialParameters Defaults(SearchSpace<DenseSearchParameters> space) => space.ParametersOf(new DenseSearchParameters());

    /// <summary>The default space (see <see cref="DenseSearchParameters"/>), ready for fluent overrides.</summary>
    public static SearchSpace<DenseSearchParameters> DefaultSpace() => new();

    /// <summary>
    /// A new <see cref="MlpOptions"/>: a copy of <paramref name="template"/> (never changed) with the swept values applied: Adam at
    /// the swept rate, batch size, L2, hidden layers, dropout, batch norm and skips; everything else (epochs, columns, seed,
    /// schedule, initializer, activation, batch-norm placement) comes from the template.
    /// </summary>
    public static MlpOptions ToOptions(DenseSearchParameters p, MlpOptions template)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(template);
        if (p.Depth < 1) throw new ArgumentOutOfRangeException(nameof(p.Depth), p.Depth, $"DenseSearchParameters.Depth must be >= 1. Received: Depth={p.Depth}");
        var o = template.Clone();
        o.BatchSize = p.BatchSize;
        o.Optimizer = new Adam { LearningRate = p.LearningRate };
        o.Regularization = new RegularizationOptions { L2 = p.L2 };
        o.HiddenSizes = Enumerable.Repeat(p.Width, p.Depth).ToList();
        o.Dropout = p.Dropout;
        o.BatchNorm = p.BatchNorm;
        o.Residual = p.Residual && p.Depth >= 2;
        return o;
    }

    /// <summary>
    /// Sweeps an MLP on <paramref name="data"/> in one line: holds out <paramref name="validationFraction"/> of the rows
    /// (seeded), maps a non-key label to a key for multiclass, and runs <paramref name="options"/>' budget (default: 20 trials,
    /// TPE, in memory) over <paramref name="space"/> (default <see cref="DefaultSpace"/>) optimising <paramref name="metric"/>
    /// (its task picks the trainer: accuracy → multiclass, auc → binary, rmse → regression). The feature column must already
    /// be built (Concatenate, NormalizeMeanVariance, …). The result's <see cref="SweepResult.BestOptions"/> is an <see cref="MlpOptions"/>.
    /// </summary>
    public static SweepResult Run(MLContext ml, IDataView data, MlpOptions template, SweepMetric metric, SweepOptions? options = null,
        SearchSpace<DenseSearchParameters>? space = null, double validationFraction = 0.2, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(metric);
        var label = data.Schema.GetColumnOrNull(template.LabelColumnName)
            ?? throw new ArgumentException($"The data has no label column '{template.LabelColumnName}' (MlpOptions.LabelColumnName). Columns: {string.Join(", ", data.Schema.Select(c => c.Name))}.", nameof(data));
        var pre = metric.Task == PredictionKind.MulticlassClassification && label.Type is not KeyDataViewType ? ml.Transforms.Conversion.MapValueToKey(template.LabelColumnName) : null;
        var split = SweepData.Split(ml, data, validationFraction, pre, template.Seed ?? 0);
        return Run(ml, new[] { split }, template, metric, options, space, cancellationToken);
    }

    /// <summary>As above, on splits made beforehand (one <see cref="SweepData"/>, or k folds from <see cref="SweepData.KFold"/>: each trial's value is the mean over folds).</summary>
    public static SweepResult Run(MLContext ml, IReadOnlyList<SweepData> folds, MlpOptions template, SweepMetric metric, SweepOptions? options = null,
        SearchSpace<DenseSearchParameters>? space = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(metric);
        space ??= DefaultSpace();
        return TrainerSweep.Run(ml, space, folds, metric, options, p => ToOptions(p, template), o => metric.Task switch
        {
            PredictionKind.MulticlassClassification => ml.MulticlassClassification.Trainers.Mlp(o),
            PredictionKind.BinaryClassification => ml.BinaryClassification.Trainers.Mlp(o),
            PredictionKind.Regression => ml.Regression.Trainers.Mlp(o),
            _ => throw new ArgumentException($"Metric '{metric.Name}' scores {metric.Task}; an MLP sweep needs a multiclass, binary or regression metric.", nameof(metric)),
        }, template.LabelColumnName, cancellationToken);
    }
}
