using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using MLNetDeep.Regularization;
using MLNetDeep.Tasks;
using MLNetDeep.Training;

namespace MLNetDeep.Sweeps;

/// <summary>
/// The CNN trainer's default search space: optimizer and learning rate, batch size, L2 weight decay, the
/// convolutional body's width and depth, and the dense head (nested: width, dropouts). Each property's
/// default is the trainer's own default, so <c>new CnnSearchParameters()</c> describes <c>new CnnOptions()</c>.
/// Override any range in code: <c>CnnSweep.DefaultSpace().Range(p =&gt; p.LearningRate, 1e-4, 3e-2, logScale: true)</c>.
/// </summary>
public sealed class CnnSearchParameters
{
    /// <summary>Initial learning rate (log scale).</summary>
    [Range(1e-4, 1e-2, logBase: true)] public double LearningRate { get; set; } = 1e-3;
    /// <summary>"adam" (Adam) or "nesterov" (SGD, momentum 0.9, Nesterov).</summary>
    [Choice("adam", "nesterov")] public string Optimizer { get; set; } = "adam";
    /// <summary>Rows per gradient step.</summary>
    [Choice(32, 64, 128)] public int BatchSize { get; set; } = 64;
    /// <summary>L2 penalty on weights (log scale; the trainer's default is 0).</summary>
    [Range(1e-6, 1e-2, logBase: true)] public double L2 { get; set; }
    /// <summary>Filters of the first ConvBlock; each next block doubles them.</summary>
    [Choice(16, 32, 64)] public int Filters { get; set; } = 32;
    /// <summary>ConvBlocks (3×3, batch norm, ReLU, 2×2 max pooling).</summary>
    [Range(1, 3)] public int ConvBlocks { get; set; } = 2;
    /// <summary>The dense head.</summary>
    public CnnHeadParameters Head { get; set; } = new();
}

/// <summary>The dense head's part of <see cref="CnnSearchParameters"/> (a nested search space).</summary>
public sealed class CnnHeadParameters
{
    /// <summary>Width of the single hidden layer.</summary>
    [Choice(64, 128, 256)] public int HiddenSize { get; set; } = 128;
    /// <summary>Dropout after the hidden layer.</summary>
    [Range(0.0, 0.6)] public double Dropout { get; set; } = 0.5;
    /// <summary>Dropout on the head's input.</summary>
    [Range(0.0, 0.5)] public double InputDropout { get; set; } = 0.25;
}

/// <summary>One-line hyperparameter sweeps of the image CNN trainers.</summary>
public static class CnnSweep
{
    /// <summary>The trainer's defaults as a trial of <paramref name="space"/> (for <see cref="SweepOptions.InitialTrials"/>).</summary>
    public static TrialParameters Defaults(SearchSpace<CnnSearchParameters> space) => space.ParametersOf(new CnnSearchParameters());

    /// <summary>The default space (see <see cref="CnnSearchParameters"/>), ready for fluent overrides.</summary>
    public static SearchSpace<CnnSearchParameters> DefaultSpace() => new();

    /// <summary>
    /// A new <see cref="CnnOptions"/>: a copy of <paramref name="template"/> (which is never changed) with the swept values applied.
    /// Swept values replace the template's optimizer, batch size, L2, body and head; everything else (image shape, epochs,
    /// columns, seed, schedule, initializer, activations) comes from the template.
    /// </summary>
    public static CnnOptions ToOptions(CnnSearchParameters p, CnnOptions template)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(template);
        var o = template.Clone();

        o.BatchSize = p.BatchSize;
        o.Optimizer = p.Optimizer switch
        {
            "adam" => new Adam { LearningRate = p.LearningRate },
            "sgd" => new Sgd { LearningRate = p.LearningRate },
            "momentum" => new Sgd { LearningRate = p.LearningRate, Momentum = 0.9 },
            "nesterov" => new Sgd { LearningRate = p.LearningRate, Momentum = 0.9, Nesterov = true },
            _ => throw new ArgumentOutOfRangeException(nameof(p.Optimizer), p.Optimizer, $"CnnSearchParameters.Optimizer must be adam, sgd, momentum or nesterov. Received: Optimizer={p.Optimizer}"),
        };
        o.Regularization = new RegularizationOptions { L2 = p.L2 };
        if (p.ConvBlocks < 1) throw new ArgumentOutOfRangeException(nameof(p.ConvBlocks), p.ConvBlocks, $"CnnSearchParameters.ConvBlocks must be >= 1. Received: ConvBlocks={p.ConvBlocks}");
        var shape = template.ImageShape;
        var layers = new List<CnnLayer>();
        int side = shape is null ? int.MaxValue : Math.Min(shape.Height, shape.Width);
        for (int i = 0; i < p.ConvBlocks; i++)
        {
            // pool only while the image is at least 2 pixels wide, so deep bodies stay valid on small images
            bool pool = side >= 2;
            layers.Add(new ConvBlock(p.Filters << i, 3, pool ? PoolingKind.Max : PoolingKind.None));
            if (pool) side /= 2;
        }
        o.Layers = layers;
        var th = template.Head ?? new DenseHead();
        o.Head = new DenseHead
        {
            HiddenSizes = new List<int> { p.Head.HiddenSize },
            Dropout = p.Head.Dropout,
            InputDropout = p.Head.InputDropout,
            Activation = th.Activation,
            BatchNorm = th.BatchNorm,
        };
        o.Callbacks = new List<TrainingCallback>(template.Callbacks ?? Array.Empty<TrainingCallback>());
        return o;
    }

    /// <summary>
    /// Sweeps a multiclass CNN on <paramref name="data"/> in one line: holds out <paramref name="validationFraction"/> of the rows,
    /// maps the label to a key, and runs <paramref name="options"/>' budget (default: 20 trials, TPE, in memory) over
    /// <paramref name="space"/> (default <see cref="DefaultSpace"/>) optimising <paramref name="metric"/> (default accuracy).
    /// <paramref name="template"/> gives the image shape, epochs and everything not swept; it is never changed.
    /// The result's <see cref="SweepResult.BestModel"/> is a chain (label mapping + CNN) and <see cref="SweepResult.BestOptions"/> a <see cref="CnnOptions"/>.
    /// </summary>
    public static SweepResult Multiclass(MLContext ml, IDataView data, CnnOptions template, SweepOptions? options = null,
        SearchSpace<CnnSearchParameters>? space = null, SweepMetric? metric = null, double validationFraction = 0.2,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(template);
        if (template.ImageShape is null)
            throw new ArgumentNullException(nameof(template), "The template's CnnOptions.ImageShape must be set (e.g. new ImageShape(1, 28, 28)): the sweep builds every trial's options from the template.");
        var label = data.Schema.GetColumnOrNull(template.LabelColumnName)
            ?? throw new ArgumentException($"The data has no label column '{template.LabelColumnName}' (CnnOptions.LabelColumnName). Columns: {string.Join(", ", data.Schema.Select(c => c.Name))}.", nameof(data));
        var pre = label.Type is KeyDataViewType ? null : ml.Transforms.Conversion.MapValueToKey(template.LabelColumnName);
        var split = SweepData.Split(ml, data, validationFraction, pre, template.Seed ?? 0);
        return Multiclass(ml, split, template, options, space, metric, cancellationToken);
    }

    /// <summary>As <see cref="Multiclass(MLContext, IDataView, CnnOptions, SweepOptions?, SearchSpace{CnnSearchParameters}?, SweepMetric?, double, CancellationToken)"/>, on a split made beforehand (label already a key).</summary>
    public static SweepResult Multiclass(MLContext ml, SweepData data, CnnOptions template, SweepOptions? options = null,
        SearchSpace<CnnSearchParameters>? space = null, SweepMetric? metric = null, CancellationToken cancellationToken = default)
        => Multiclass(ml, new[] { data ?? throw new ArgumentNullException(nameof(data)) }, template, options, space, metric, cancellationToken);

    /// <summary>As above, cross-validated on k folds (<see cref="SweepData.KFold"/>): each trial's value is the mean over folds.</summary>
    public static SweepResult Multiclass(MLContext ml, IReadOnlyList<SweepData> folds, CnnOptions template, SweepOptions? options = null,
        SearchSpace<CnnSearchParameters>? space = null, SweepMetric? metric = null, CancellationToken cancellationToken = default)
    {
        metric ??= SweepMetric.Accuracy;
        if (metric.Task != PredictionKind.MulticlassClassification)
            throw new ArgumentException($"Metric '{metric.Name}' scores {metric.Task}; a multiclass sweep needs accuracy, macro-accuracy or log-loss.", nameof(metric));
        space ??= DefaultSpace();
        return TrainerSweep.Run(ml, space, folds, metric, options, p => ToOptions(p, template),
            o => ml.MulticlassClassification.Trainers.Cnn(o), template.LabelColumnName, cancellationToken);
    }
}
