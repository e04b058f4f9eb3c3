using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Training;

namespace MLNetDeep.Sweeps;

/// <summary>The kind of model a metric scores.</summary>
public enum SweepTask
{
    /// <summary>Multiclass classification (key label).</summary>
    MulticlassClassification,
    /// <summary>Binary classification (Boolean label).</summary>
    BinaryClassification,
    /// <summary>Regression (Single label).</summary>
    Regression,
}

/// <summary>
/// An ML.NET metric a sweep optimises: its name, direction, the ML.NET evaluator that computes it on the validation
/// split after a trial, and the trainer's per-epoch validation metric that ASHA compares (<see cref="EpochMetric"/>).
/// </summary>
public sealed class SweepMetric
{
    private readonly Func<MLContext, IDataView, string, double> _evaluate;

    private SweepMetric(string name, SweepTask task, OptimizationDirection direction, string? epochMetric, Func<MLContext, IDataView, string, double> evaluate)
    {
        Name = name; Task = task; Direction = direction; EpochMetric = epochMetric; _evaluate = evaluate;
    }

    /// <summary>Name (recorded with the sweep and used in the results table).</summary>
    public string Name { get; }
    /// <summary>The task it scores.</summary>
    public SweepTask Task { get; }
    /// <summary>Larger or smaller is better.</summary>
    public OptimizationDirection Direction { get; }
    /// <summary>
    /// The per-epoch validation figure reported to the scheduler: a key of <see cref="EpochSummary.ValidationMetrics"/>
    /// ("accuracy", "rmse", "mae") or "loss" for <see cref="EpochSummary.ValidationLoss"/>. It moves in the same direction as
    /// the metric (a proxy for metrics the trainer does not compute per epoch, e.g. accuracy for AUC); null when there is none
    /// (then the scheduler cannot stop trials early).
    /// </summary>
    public string? EpochMetric { get; }

    /// <summary>Computes the metric on scored data.</summary>
    public double Evaluate(MLContext ml, IDataView scored, string labelColumnName) => _evaluate(ml, scored, labelColumnName);

    /// <summary>Multiclass micro-accuracy (maximise; per epoch: "accuracy").</summary>
    public static SweepMetric Accuracy { get; } = new("accuracy", SweepTask.MulticlassClassification, OptimizationDirection.Maximize, "accuracy",
        (ml, d, l) => ml.MulticlassClassification.Evaluate(d, l).MicroAccuracy);
    /// <summary>Multiclass macro-accuracy (maximise; per epoch: "accuracy" as proxy).</summary>
    public static SweepMetric MacroAccuracy { get; } = new("macro-accuracy", SweepTask.MulticlassClassification, OptimizationDirection.Maximize, "accuracy",
        (ml, d, l) => ml.MulticlassClassification.Evaluate(d, l).MacroAccuracy);
    /// <summary>Multiclass log-loss (minimise; per epoch: validation loss).</summary>
    public static SweepMetric LogLoss { get; } = new("log-loss", SweepTask.MulticlassClassification, OptimizationDirection.Minimize, "loss",
        (ml, d, l) => ml.MulticlassClassification.Evaluate(d, l).LogLoss);
    /// <summary>Binary accuracy (maximise).</summary>
    public static SweepMetric BinaryAccuracy { get; } = new("binary-accuracy", SweepTask.BinaryClassification, OptimizationDirection.Maximize, "accuracy",
        (ml, d, l) => ml.BinaryClassification.Evaluate(d, l).Accuracy);
    /// <summary>Binary AUC (maximise; per epoch: "accuracy" as proxy).</summary>
    public static SweepMetric Auc { get; } = new("auc", SweepTask.BinaryClassification, OptimizationDirection.Maximize, "accuracy",
        (ml, d, l) => ml.BinaryClassification.Evaluate(d, l).AreaUnderRocCurve);
    /// <summary>Binary F1 (maximise; per epoch: "accuracy" as proxy).</summary>
    public static SweepMetric F1 { get; } = new("f1", SweepTask.BinaryClassification, OptimizationDirection.Maximize, "accuracy",
        (ml, d, l) => ml.BinaryClassification.Evaluate(d, l).F1Score);
    /// <summary>Regression RMSE (minimise; per epoch: "rmse").</summary>
    public static SweepMetric Rmse { get; } = new("rmse", SweepTask.Regression, OptimizationDirection.Minimize, "rmse",
        (ml, d, l) => ml.Regression.Evaluate(d, l).RootMeanSquaredError);
    /// <summary>Regression MAE (minimise; per epoch: "mae").</summary>
    public static SweepMetric Mae { get; } = new("mae", SweepTask.Regression, OptimizationDirection.Minimize, "mae",
        (ml, d, l) => ml.Regression.Evaluate(d, l).MeanAbsoluteError);
    /// <summary>Regression R² (maximise; no per-epoch counterpart, so no early stopping).</summary>
    public static SweepMetric RSquared { get; } = new("r-squared", SweepTask.Regression, OptimizationDirection.Maximize, null,
        (ml, d, l) => ml.Regression.Evaluate(d, l).RSquared);

    /// <summary>A metric by name: accuracy, macro-accuracy, log-loss, binary-accuracy, auc, f1, rmse, mae, r-squared.</summary>
    public static SweepMetric FromName(string name) => All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentOutOfRangeException(nameof(name), name, $"Unknown sweep metric '{name}'. Known: {string.Join(", ", All.Select(m => m.Name))}.");

    /// <summary>Every built-in metric.</summary>
    public static IReadOnlyList<SweepMetric> All => new[] { Accuracy, MacroAccuracy, LogLoss, BinaryAccuracy, Auc, F1, Rmse, Mae, RSquared };

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Direction.ToString().ToLowerInvariant()})";
}

/// <summary>What a trial's trainer factory must wire in: the callback (per-epoch reports, early stop) and the validation data.</summary>
public sealed class TrialSetup
{
    internal TrialSetup(TrainingCallback callback, IDataView validationData, TrialContext context)
    {
        Callback = callback; ValidationData = validationData; Context = context;
    }

    /// <summary>Add to the trainer options' <see cref="TrainerOptions.Callbacks"/>: reports each epoch's metric and stops pruned trials.</summary>
    public TrainingCallback Callback { get; }
    /// <summary>Set as the trainer options' <see cref="TrainerOptions.ValidationData"/> (the sweep's validation split, preprocessed).</summary>
    public IDataView ValidationData { get; }
    /// <summary>The trial.</summary>
    public TrialContext Context { get; }
}

/// <summary>
/// A train/validation split made once per sweep: the preprocessing (e.g. MapValueToKey on the label) is fitted on the
/// training part and applied to both, so every trial trains and validates on exactly the same rows.
/// </summary>
public sealed class SweepData
{
    private SweepData(IDataView train, IDataView validation, ITransformer? preprocessing)
    {
        Train = train; Validation = validation; Preprocessing = preprocessing;
    }

    /// <summary>Preprocessed training rows.</summary>
    public IDataView Train { get; }
    /// <summary>Preprocessed validation rows.</summary>
    public IDataView Validation { get; }
    /// <summary>The fitted preprocessing (prepended to each trial's model), or null.</summary>
    public ITransformer? Preprocessing { get; }

    /// <summary>Splits <paramref name="data"/> (seeded), fits <paramref name="preprocessing"/> on the training part and applies it to both parts.</summary>
    public static SweepData Split(MLContext ml, IDataView data, double validationFraction = 0.2, IEstimator<ITransformer>? preprocessing = null, int seed = 0)
    {
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, $"validationFraction must be in (0, 1). Received: validationFraction={validationFraction}. 0.2 is usual.");
        var split = ml.Data.TrainTestSplit(data, validationFraction, seed: seed);
        return FromParts(ml, split.TrainSet, split.TestSet, preprocessing);
    }

    /// <summary>Uses the given training and validation data; fits <paramref name="preprocessing"/> on the training data.</summary>
    public static SweepData FromParts(MLContext ml, IDataView train, IDataView validation, IEstimator<ITransformer>? preprocessing = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (preprocessing is null) return new SweepData(ml.Data.Cache(train), ml.Data.Cache(validation), null);
        var fitted = preprocessing.Fit(train);
        return new SweepData(ml.Data.Cache(fitted.Transform(train)), ml.Data.Cache(fitted.Transform(validation)), fitted);
    }
}

/// <summary>
/// The trainer-backed objective: each trial binds the trial's parameters to a fresh <typeparamref name="TParams"/>,
/// builds the estimator from it, trains on <see cref="SweepData.Train"/> validating after each epoch on
/// <see cref="SweepData.Validation"/> (reporting the metric, stopped when the scheduler says so), and scores the
/// trained model on the validation rows with the metric's ML.NET evaluator.
/// </summary>
/// <typeparam name="TParams">The parameter class the search space is declared on.</typeparam>
public sealed class TrainerObjective<TParams> : ISweepObjective where TParams : class, new()
{
    private readonly MLContext _ml;
    private readonly SearchSpace<TParams> _space;
    private readonly SweepData _data;
    private readonly SweepMetric _metric;
    private readonly Func<TParams, TrialSetup, IEstimator<ITransformer>> _createTrainer;

    /// <summary>Creates the objective.</summary>
    /// <param name="ml">The context (also the evaluators').</param>
    /// <param name="space">The search space; <see cref="SearchSpace{T}.Bind"/> makes each trial's parameters.</param>
    /// <param name="data">The train/validation split.</param>
    /// <param name="metric">What to optimise.</param>
    /// <param name="createTrainer">Builds a new trainer (with new options) from the parameters; must add <see cref="TrialSetup.Callback"/>
    /// and set <see cref="TrialSetup.ValidationData"/> on the options it creates.</param>
    /// <param name="labelColumnName">The label column the evaluator reads.</param>
    public TrainerObjective(MLContext ml, SearchSpace<TParams> space, SweepData data, SweepMetric metric,
        Func<TParams, TrialSetup, IEstimator<ITransformer>> createTrainer, string labelColumnName = "Label")
    {
        _ml = ml ?? throw new ArgumentNullException(nameof(ml));
        _space = space ?? throw new ArgumentNullException(nameof(space));
        _data = data ?? throw new ArgumentNullException(nameof(data));
        _metric = metric ?? throw new ArgumentNullException(nameof(metric));
        _createTrainer = createTrainer ?? throw new ArgumentNullException(nameof(createTrainer));
        LabelColumnName = labelColumnName;
    }

    /// <summary>The label column the evaluator reads.</summary>
    public string LabelColumnName { get; }

    /// <inheritdoc />
    public TrialResult Run(TrialContext context)
    {
        var parameters = _space.Bind(context.Parameters);
        var callback = new ReportingCallback(context, _metric);
        var trainer = _createTrainer(parameters, new TrialSetup(callback, _data.Validation, context));
        var model = trainer.Fit(_data.Train);
        if (!callback.SawTraining)
        {
            Sweeper.DisposeModel(model);
            throw new InvalidOperationException("The trainer built for this trial never called TrialSetup.Callback: add it to the options' Callbacks (options.Callbacks.Add(setup.Callback)) so epochs are reported and pruning works.");
        }
        if (callback.Diverged)
        {
            Sweeper.DisposeModel(model);
            throw new InvalidOperationException($"diverged: the validation {_metric.EpochMetric} became NaN at epoch {context.LastEpoch} (try a lower learning rate)");
        }
        if (context.IsPruned || context.CancellationToken.IsCancellationRequested)
        {
            Sweeper.DisposeModel(model);
            return new TrialResult { Value = context.LastReported ?? double.NaN };
        }
        double value = _metric.Evaluate(_ml, model.Transform(_data.Validation), LabelColumnName);
        ITransformer full = _data.Preprocessing is null ? model : new TransformerChain<ITransformer>(_data.Preprocessing, model);
        return new TrialResult { Value = value, Model = full, Options = callback.Options };
    }

    private sealed class ReportingCallback : TrainingCallback
    {
        private readonly TrialContext _trial;
        private readonly SweepMetric _metric;
        public ReportingCallback(TrialContext trial, SweepMetric metric) { _trial = trial; _metric = metric; }
        public bool SawTraining { get; private set; }
        public bool Diverged { get; private set; }
        public TrainerOptions? Options { get; private set; }

        public override void OnTrainBegin(TrainingContext context)
        {
            SawTraining = true;
            Options = context.Options;
            _trial.MaxEpochs = context.Options.Epochs;
        }

        public override void OnEpochEnd(TrainingContext context, EpochSummary summary)
        {
            double? value = _metric.EpochMetric switch
            {
                null => null,
                "loss" => summary.ValidationLoss,
                var k => summary.ValidationMetrics.TryGetValue(k, out var v) ? v : null,
            };
            bool stop = value is double x ? _trial.Report(summary.Epoch, x) : _trial.CancellationToken.IsCancellationRequested;
            if (value is double nan && double.IsNaN(nan) || double.IsNaN(summary.TrainLoss))
            {
                Diverged = true;
                context.StopTraining = true;
                context.StopReason = "sweep: loss or validation metric is NaN (diverged)";
            }
            if (stop)
            {
                context.StopTraining = true;
                context.StopReason = _trial.StopReason ?? "sweep cancelled";
            }
        }
    }
}
