using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Tasks;
using MLNetDeep.Training;

namespace MLNetDeep.Sweeps;

/// <summary>
/// An ML.NET metric a sweep optimises: its name, direction, the ML.NET evaluator that computes it on the validation
/// split after a trial, and the per-epoch figure the scheduler (ASHA) compares (<see cref="EpochMonitor"/>).
/// </summary>
public sealed class SweepMetric
{
    private readonly Func<MLContext, IDataView, string, double> _evaluate;

    private SweepMetric(string name, PredictionKind task, OptimizationDirection direction, Monitored? epochMonitor, Func<MLContext, IDataView, string, double> evaluate)
    {
        Name = name; Task = task; Direction = direction; EpochMonitor = epochMonitor; _evaluate = evaluate;
    }

    /// <summary>Name (recorded with the sweep and used in the results table).</summary>
    public string Name { get; }
    /// <summary>The task it scores.</summary>
    public PredictionKind Task { get; }
    /// <summary>Larger or smaller is better.</summary>
    public OptimizationDirection Direction { get; }
    /// <summary>
    /// The validation figure of every epoch reported to the scheduler: a validation metric of the task or the validation loss
    /// (typed, so "loss" can't mean two things). It moves in the same direction as the metric (a proxy for metrics the trainer
    /// does not compute per epoch, e.g. accuracy for AUC); null when there is none (then the scheduler cannot stop trials early).
    /// </summary>
    public Monitored? EpochMonitor { get; }

    /// <summary>Computes the metric on scored data.</summary>
    public double Evaluate(MLContext ml, IDataView scored, string labelColumnName) => _evaluate(ml, scored, labelColumnName);

    /// <summary>Multiclass micro-accuracy (maximise; per epoch: "accuracy").</summary>
    public static SweepMetric Accuracy { get; } = new("accuracy", PredictionKind.MulticlassClassification, OptimizationDirection.Maximize, Monitored.ValidationMetric("accuracy"),
        (ml, d, l) => ml.MulticlassClassification.Evaluate(d, l).MicroAccuracy);
    /// <summary>Multiclass macro-accuracy (maximise; per epoch: "accuracy" as proxy).</summary>
    public static SweepMetric MacroAccuracy { get; } = new("macro-accuracy", PredictionKind.MulticlassClassification, OptimizationDirection.Maximize, Monitored.ValidationMetric("accuracy"),
        (ml, d, l) => ml.MulticlassClassification.Evaluate(d, l).MacroAccuracy);
    /// <summary>Multiclass log-loss (minimise; per epoch: validation loss).</summary>
    public static SweepMetric LogLoss { get; } = new("log-loss", PredictionKind.MulticlassClassification, OptimizationDirection.Minimize, Monitored.ValidationLoss,
        (ml, d, l) => ml.MulticlassClassification.Evaluate(d, l).LogLoss);
    /// <summary>Binary accuracy (maximise).</summary>
    public static SweepMetric BinaryAccuracy { get; } = new("binary-accuracy", PredictionKind.BinaryClassification, OptimizationDirection.Maximize, Monitored.ValidationMetric("accuracy"),
        (ml, d, l) => ml.BinaryClassification.Evaluate(d, l).Accuracy);
    /// <summary>Binary AUC (maximise; per epoch: "accuracy" as proxy).</summary>
    public static SweepMetric Auc { get; } = new("auc", PredictionKind.BinaryClassification, OptimizationDirection.Maximize, Monitored.ValidationMetric("accuracy"),
        (ml, d, l) => ml.BinaryClassification.Evaluate(d, l).AreaUnderRocCurve);
    /// <summary>Binary F1 (maximise; per epoch: "accuracy" as proxy).</summary>
    public static SweepMetric F1 { get; } = new("f1", PredictionKind.BinaryClassification, OptimizationDirection.Maximize, Monitored.ValidationMetric("accuracy"),
        (ml, d, l) => ml.BinaryClassification.Evaluate(d, l).F1Score);
    /// <summary>Regression RMSE (minimise; per epoch: "rmse").</summary>
    public static SweepMetric Rmse { get; } = new("rmse", PredictionKind.Regression, OptimizationDirection.Minimize, Monitored.ValidationMetric("rmse"),
        (ml, d, l) => ml.Regression.Evaluate(d, l).RootMeanSquaredError);
    /// <summary>Regression MAE (minimise; per epoch: "mae").</summary>
    public static SweepMetric Mae { get; } = new("mae", PredictionKind.Regression, OptimizationDirection.Minimize, Monitored.ValidationMetric("mae"),
        (ml, d, l) => ml.Regression.Evaluate(d, l).MeanAbsoluteError);
    /// <summary>Regression R² (maximise; no per-epoch counterpart, so no early stopping).</summary>
    public static SweepMetric RSquared { get; } = new("r-squared", PredictionKind.Regression, OptimizationDirection.Maximize, null,
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

    /// <summary>
    /// k folds for cross-validation (ML.NET's seeded <c>CrossValidationSplit</c>): fold i validates on the i-th part and trains on
    /// the rest; <paramref name="preprocessing"/> is fitted on each fold's training part. Pass the list to <see cref="TrainerObjective{TParams}"/>.
    /// </summary>
    public static IReadOnlyList<SweepData> KFold(MLContext ml, IDataView data, int folds = 5, IEstimator<ITransformer>? preprocessing = null, int seed = 0)
    {
        if (folds < 2) throw new ArgumentOutOfRangeException(nameof(folds), folds, $"folds must be >= 2. Received: folds={folds}. Use SweepData.Split for a single split.");
        return ml.Data.CrossValidationSplit(data, folds, seed: seed).Select(f => FromParts(ml, f.TrainSet, f.TestSet, preprocessing)).ToList();
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
/// trained model on the validation rows with the metric's ML.NET evaluator. With k folds (<see cref="SweepData.KFold"/>)
/// it trains once per fold and the trial's value is the mean over folds; the scheduler judges the first fold's epochs
/// (a trial stopped there skips the other folds) and the trial's model is the first fold's.
/// </summary>
/// <typeparam name="TParams">The parameter class the search space is declared on.</typeparam>
public sealed class TrainerObjective<TParams> : ISweepObjective where TParams : class, new()
{
    private readonly MLContext _ml;
    private readonly SearchSpace<TParams> _space;
    private readonly IReadOnlyList<SweepData> _folds;
    private readonly SweepMetric _metric;
    private readonly Func<TParams, TrialSetup, IEstimator<ITransformer>> _createTrainer;

    /// <summary>Creates the objective on one train/validation split.</summary>
    /// <param name="ml">The context (also the evaluators').</param>
    /// <param name="space">The search space; <see cref="SearchSpace{T}.Bind"/> makes each trial's parameters.</param>
    /// <param name="data">The train/validation split.</param>
    /// <param name="metric">What to optimise.</param>
    /// <param name="createTrainer">Builds a new trainer (with new options) from the parameters; must add <see cref="TrialSetup.Callback"/>
    /// and set <see cref="TrialSetup.ValidationData"/> on the options it creates.</param>
    /// <param name="labelColumnName">The label column the evaluator reads.</param>
    public TrainerObjective(MLContext ml, SearchSpace<TParams> space, SweepData data, SweepMetric metric,
        Func<TParams, TrialSetup, IEstimator<ITransformer>> createTrainer, string labelColumnName = "Label")
        : this(ml, space, new[] { data ?? throw new ArgumentNullException(nameof(data)) }, metric, createTrainer, labelColumnName) { }

    /// <summary>Creates the objective on k folds (see <see cref="SweepData.KFold"/>): the value is the mean over folds.</summary>
    public TrainerObjective(MLContext ml, SearchSpace<TParams> space, IReadOnlyList<SweepData> folds, SweepMetric metric,
        Func<TParams, TrialSetup, IEstimator<ITransformer>> createTrainer, string labelColumnName = "Label")
    {
        _ml = ml ?? throw new ArgumentNullException(nameof(ml));
        _space = space ?? throw new ArgumentNullException(nameof(space));
        _folds = folds ?? throw new ArgumentNullException(nameof(folds));
        if (_folds.Count == 0 || _folds.Any(f => f is null))
            throw new ArgumentException($"folds must hold at least one SweepData and no nulls. Received: {_folds.Count} fold(s). Use SweepData.Split or SweepData.KFold.", nameof(folds));
        _metric = metric ?? throw new ArgumentNullException(nameof(metric));
        _createTrainer = createTrainer ?? throw new ArgumentNullException(nameof(createTrainer));
        LabelColumnName = labelColumnName;
    }

    /// <summary>The label column the evaluator reads.</summary>
    public string LabelColumnName { get; }

    /// <inheritdoc />
    public TrialResult Run(TrialContext context)
    {
        var values = new List<double>();
        ITransformer? first = null;
        TrainerOptions? firstOptions = null;
        try
        {
            for (int f = 0; f < _folds.Count; f++)
            {
                var data = _folds[f];
                var parameters = _space.Bind(context.Parameters); // a fresh parameter object (and options) per fit
                var callback = new ReportingCallback(context, _metric, report: f == 0);
                var trainer = _createTrainer(parameters, new TrialSetup(callback, data.Validation, context));
                var model = trainer.Fit(data.Train);
                if (!callback.SawTraining)
                {
                    Sweeper.DisposeModel(model);
                    throw new InvalidOperationException("The trainer built for this trial never called TrialSetup.Callback: add it to the options' Callbacks (options.Callbacks.Add(setup.Callback)) so epochs are reported and pruning works.");
                }
                if (callback.Diverged)
                {
                    Sweeper.DisposeModel(model);
                    throw new InvalidOperationException($"diverged: the loss or validation {_metric.EpochMonitor?.ToString() ?? "metric"} became NaN{(_folds.Count > 1 ? $" in fold {f + 1}" : "")} (try a lower learning rate)");
                }
                if (context.IsPruned || context.CancellationToken.IsCancellationRequested)
                {
                    Sweeper.DisposeModel(model);
                    return new TrialResult { Value = context.LastReported ?? double.NaN };
                }
                values.Add(_metric.Evaluate(_ml, model.Transform(data.Validation), LabelColumnName));
                if (f == 0)
                {
                    first = data.Preprocessing is null ? model : new TransformerChain<ITransformer>(data.Preprocessing, model);
                    firstOptions = callback.Options;
                }
                else Sweeper.DisposeModel(model);
            }
            var result = new TrialResult { Value = values.Average(), Model = first, Options = firstOptions };
            first = null; // handed over
            return result;
        }
        finally
        {
            Sweeper.DisposeModel(first);
        }
    }

    private sealed class ReportingCallback : TrainingCallback
    {
        private readonly TrialContext _trial;
        private readonly SweepMetric _metric;
        private readonly bool _report;
        public ReportingCallback(TrialContext trial, SweepMetric metric, bool report) { _trial = trial; _metric = metric; _report = report; }
        public bool SawTraining { get; private set; }
        public bool Diverged { get; private set; }
        public TrainerOptions? Options { get; private set; }

        public override void OnTrainBegin(TrainingContext context)
        {
            SawTraining = true;
            Options = context.Options;
            if (_report) _trial.MaxEpochs = context.Options.Epochs;
        }

        public override void OnEpochEnd(TrainingContext context, EpochSummary summary)
        {
            double? value = _metric.EpochMonitor?.Read(summary);
            bool stop = value is double x && _report ? _trial.Report(summary.Epoch, x) : _trial.CancellationToken.IsCancellationRequested;
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
