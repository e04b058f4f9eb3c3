using System.Text.Json.Serialization;
using MLNetDeep.Checkpoints;
using MLNetDeep.Diagnostics;
using MLNetDeep.EarlyStopping;
using MLNetDeep.Initializers;
using MLNetDeep.Optimizers;
using MLNetDeep.Pretraining;
using MLNetDeep.Regularization;
using MLNetDeep.Runtime;
using MLNetDeep.Schedules;
using MLNetDeep.Tasks;
using MLNetDeep.Transfer;
using MLNetDeep.Scoring;
using Microsoft.ML;

namespace MLNetDeep.Training;

/// <summary>
/// Options every MLNetDeep trainer shares: columns, the training loop, optimizer, schedule,
/// initialisation, regularisation, validation and progress. Training reads these and never changes them.
/// </summary>
public abstract class TrainerOptions
{
    /// <summary>Pass as <see cref="BatchSize"/> for full-batch gradient descent (one step per epoch over all rows).</summary>
    public const int FullBatch = int.MaxValue;

    /// <summary>Label column: key for multiclass, Boolean for binary, Single for regression. Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";
    /// <summary>Feature column (a numeric vector). Default "Features".</summary>
    public string FeatureColumnName { get; set; } = "Features";
    /// <summary>Optional Single column of per-example weights (≥ 0) that scale each example's loss.</summary>
    public string? ExampleWeightColumnName { get; set; }

    /// <summary>Passes over the training data. Default 10.</summary>
    public int Epochs { get; set; } = 10;
    /// <summary>Rows per gradient step: 1 = per-example SGD, <see cref="FullBatch"/> = batch gradient descent. Default 64.</summary>
    public int BatchSize { get; set; } = 64;
    /// <summary>Reshuffle the training rows every epoch (seeded). Default true.</summary>
    public bool Shuffle { get; set; } = true;
    /// <summary>
    /// Seed for initialisation, shuffling, dropout and validation splits; same seed, same weights on CPU, also when fits run
    /// concurrently. Null (default) = the MLContext's seed (<c>new MLContext(seed: 1)</c>), as ML.NET's trainers do; when the
    /// MLContext has none either, a random one.
    /// </summary>
    public int? Seed { get; set; }
    /// <summary>Where to train and score. Default <see cref="ComputeDevice.Auto"/>.</summary>
    public ComputeDevice Device { get; set; } = ComputeDevice.Auto;
    /// <summary>
    /// LibTorch intra-op threads for training, and for scoring with the trained model (<c>DeepTransformer.ThreadCount</c>).
    /// Null (default) = the smaller of LibTorch's own default and the CPUs the process may use (cgroup quota included):
    /// see <see cref="TorchThreads"/>. Set on the training thread for the whole Fit, and put back afterwards.
    /// </summary>
    public int? ThreadCount { get; set; }
    /// <summary>In memory or streaming, the memory budget, the shuffle buffer, batch preparation ahead, and Byte-feature scaling.</summary>
    public Data.DataOptions Data { get; set; } = new();

    /// <summary>The parameter-update rule and its learning rate. Default Adam(lr = 0.001).</summary>
    public Optimizer Optimizer { get; set; } = new Adam();
    /// <summary>Learning-rate schedule applied on top of <see cref="Optimizers.Optimizer.LearningRate"/>. Null = constant.</summary>
    public LearningRateSchedule? LearningRateSchedule { get; set; }
    /// <summary>Weight initializer for every layer. Null = chosen per layer by its activation (He for ReLU, Glorot for tanh/sigmoid, LeCun for SELU).</summary>
    public Initializer? Initializer { get; set; }
    /// <summary>Penalties, constraints and stabilisers (L1, L2, weight decay, max-norm, label smoothing, class weights, clipping).</summary>
    public RegularizationOptions Regularization { get; set; } = new();
    /// <summary>Stop when a monitored loss/metric stops improving, and restore the best epoch's weights. Null = off.</summary>
    public EarlyStoppingOptions? EarlyStopping { get; set; }
    /// <summary>Per-layer gradient/weight/activation diagnostics recorded in the history. Null = off.</summary>
    public DiagnosticsOptions? Diagnostics { get; set; }
    /// <summary>Freezing, a fresh output layer and learning-rate multipliers when starting from <see cref="WarmStartFrom"/>. Null = plain warm start.</summary>
    public TransferOptions? Transfer { get; set; }
    /// <summary>Greedy layer-wise autoencoder pretraining of the dense hidden layers on unlabeled rows before supervised training. Null = none.</summary>
    public PretrainingOptions? Pretraining { get; set; }
    /// <summary>Periodic checkpoints to a folder and resuming from the last one. Null = none.</summary>
    public CheckpointOptions? Checkpoints { get; set; }
    /// <summary>Cancels training between two batches (OperationCanceledException); with <see cref="Checkpoints"/> a later Fit resumes.</summary>
    [JsonIgnore] public CancellationToken CancellationToken { get; set; }

    /// <summary>Held-out data scored after every epoch (same columns as the training data).</summary>
    [JsonIgnore] public IDataView? ValidationData { get; set; }
    /// <summary>Fraction of the training rows held out for validation when <see cref="ValidationData"/> is null (0 = none).</summary>
    public double ValidationFraction { get; set; }

    /// <summary>Rows per forward pass when scoring with <c>Transform</c>. Default 256.</summary>
    public int ScoringBatchSize { get; set; } = 256;

    /// <summary>Name of the score column the trained model writes. Default "Score".</summary>
    public string ScoreColumnName { get; set; } = ColumnNames.Score;
    /// <summary>Name of the predicted-label column the trained model writes. Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; set; } = ColumnNames.PredictedLabel;
    /// <summary>Name of the probability column binary models write. Default "Probability".</summary>
    public string ProbabilityColumnName { get; set; } = ColumnNames.Probability;

    /// <summary>Called after every epoch with the same figures as the log line.</summary>
    [JsonIgnore] public Action<EpochSummary>? OnEpochEnd { get; set; }
    /// <summary>
    /// Your components of the training loop. They run after the built-in ones (schedule, regularisation, diagnostics,
    /// divergence guard, early stopping, progress) and before checkpointing, which saves their state when they have one.
    /// </summary>
    [JsonIgnore] public IList<TrainingCallback> Callbacks { get; set; } = new List<TrainingCallback>();
    /// <summary>Start from this trained model's weights (same architecture) instead of a fresh initialisation.</summary>
    [JsonIgnore] public DeepTransformer? WarmStartFrom { get; set; }

    /// <summary>A copy of these options for a variant of the run (a sweep trial): nested option objects are shared, the callback list is copied.</summary>
    internal TrainerOptions CopyOptions()
    {
        var copy = (TrainerOptions)MemberwiseClone();
        copy.Callbacks = new List<TrainingCallback>(Callbacks ?? new List<TrainingCallback>());
        return copy;
    }

    /// <summary>Checks every shared option; throws naming the option, the value received and the fix.</summary>
    internal virtual void Validate()
    {
        static void Require(bool ok, string option, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, value, $"{option} {rule}. Received: {option}={value}");
        }
        if (string.IsNullOrWhiteSpace(LabelColumnName)) throw new ArgumentException("LabelColumnName must name a column. Received: an empty name.", nameof(LabelColumnName));
        if (string.IsNullOrWhiteSpace(FeatureColumnName)) throw new ArgumentException("FeatureColumnName must name a column. Received: an empty name.", nameof(FeatureColumnName));
        var outputs = new[] { (nameof(ScoreColumnName), ScoreColumnName), (nameof(PredictedLabelColumnName), PredictedLabelColumnName), (nameof(ProbabilityColumnName), ProbabilityColumnName) };
        foreach (var (option, name) in outputs)
            if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException($"{option} must name a column. Received: an empty name.", option);
        if (outputs.Select(o => o.Item2).Distinct().Count() < outputs.Length)
            throw new ArgumentException($"The output column names must differ. Received: ScoreColumnName=\"{ScoreColumnName}\", " +
                                        $"PredictedLabelColumnName=\"{PredictedLabelColumnName}\", ProbabilityColumnName=\"{ProbabilityColumnName}\".", nameof(ScoreColumnName));
        Require(Epochs > 0, nameof(Epochs), Epochs, "must be > 0 (the number of passes over the training data)");
        Require(BatchSize > 0, nameof(BatchSize), BatchSize, "must be > 0 (1 = per-example SGD, TrainerOptions.FullBatch = full-batch gradient descent)");
        Require(ScoringBatchSize > 0, nameof(ScoringBatchSize), ScoringBatchSize, "must be > 0");
        Require(ThreadCount is null or > 0, nameof(ThreadCount), ThreadCount, "must be >= 1, or null for the cores available to the process");
        if (Data is null) throw new ArgumentNullException(nameof(Data), "Data must be set (new DataOptions() for the defaults). Received: null");
        Data.Validate();
        Require(ValidationFraction >= 0 && ValidationFraction < 1, nameof(ValidationFraction), ValidationFraction, "must be in [0, 1)");
        if (Optimizer is null) throw new ArgumentNullException(nameof(Optimizer), "Optimizer must be set, e.g. new Adam { LearningRate = 1e-3 }.");
        Optimizer.Validate();
        LearningRateSchedule?.Validate();
        (Regularization ?? new RegularizationOptions()).Validate();
        Diagnostics?.Validate();
        Transfer?.Validate();
        Checkpoints?.Validate();
        Pretraining?.Validate();
    }
}
