using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetDeep.Data;
using MLNetDeep.MLNetInternals;
using MLNetDeep.Models;
using MLNetDeep.Optimizers;
using MLNetDeep.Persistence;
using MLNetDeep.Runtime;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Training;

/// <summary>
/// The estimator behind every MLNetDeep trainer. It does the setup of one <c>Fit</c> — checks the options and columns,
/// reads the data, builds the network, the optimizer, the loss and the loop's components — and hands the epochs to
/// <see cref="TrainingLoop"/>. Families give the architecture (<see cref="CreateArchitecture"/>) and, where they need
/// them, their own training steps. Everything a run changes lives in per-<c>Fit</c> objects, so one estimator can be
/// fitted from several threads at once and each fit gives the weights a sequential fit with the same seed gives.
/// </summary>
public abstract class DeepTrainer<TOptions> : IEstimator<DeepTransformer> where TOptions : TrainerOptions
{
    private readonly IHostEnvironment? _env;
    private protected readonly TaskHead Head;

    /// <summary>The user's options (read, never changed).</summary>
    protected TOptions Options { get; }

    /// <summary>What this trainer predicts.</summary>
    public PredictionKind Kind => Head.Kind;

    private protected DeepTrainer(IHostEnvironment? env, TOptions options, PredictionKind kind) : this(env, options, TaskHead.For(kind)) { }

    /// <summary>A trainer whose task head is configured by the family (e.g. from its options).</summary>
    private protected DeepTrainer(IHostEnvironment? env, TOptions options, TaskHead head)
    {
        _env = env;
        Options = options ?? throw new ArgumentNullException(nameof(options));
        Head = head;
    }

    /// <summary>The MLContext behind the catalog the trainer came from (null for trainers made without one).</summary>
    private protected IHostEnvironment? Environment => _env;

    /// <summary>A trainer of the same family and task with <paramref name="options"/> (the learning-rate range test trains a copy).</summary>
    private protected abstract DeepTrainer<TOptions> WithOptions(TOptions options, IHostEnvironment? env);

    /// <summary>A copy of the options (nested objects shared, callbacks list copied) for a variant of this trainer's run.</summary>
    internal TOptions CopyOfOptions() => (TOptions)Options.CopyOptions();

    /// <summary>A trainer of this family and task with other options, logging to <paramref name="env"/> (null = silent).</summary>
    internal DeepTrainer<TOptions> Variant(TOptions options, IHostEnvironment? env) => WithOptions(options, env);

    /// <summary>The seed a Fit uses: the options' Seed, else the MLContext's, else a random one.</summary>
    internal int ResolveSeed() => Options.Seed ?? (_env is null ? null : MLNetBridge.GetSeed(_env)) ?? System.Random.Shared.Next();

    /// <summary>A fresh, validated architecture built from the options (a copy: later edits to the options don't leak in).</summary>
    protected abstract NetworkArchitecture CreateArchitecture();

    /// <summary>The run's training steps; families override to add their own (e.g. image augmentation). One per <c>Fit</c>.</summary>
    private protected virtual TrainingSteps CreateSteps(TaskLoss loss) => new(Head, loss, Options.ScoringBatchSize);

    /// <summary>Trains on <paramref name="input"/>; validates on <see cref="TrainerOptions.ValidationData"/> or a fraction when set.</summary>
    public DeepTransformer Fit(IDataView input) => Fit(input, Options.ValidationData);

    /// <summary>Trains on <paramref name="trainData"/>, scoring <paramref name="validationData"/> after every epoch.</summary>
    public DeepTransformer Fit(IDataView trainData, IDataView? validationData)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        return FitRun(trainData, validationData);
    }

    /// <summary>One Fit: families whose runs have phases (a CNN on a pretrained backbone) override it and call this one per phase or not at all.</summary>
    private protected virtual DeepTransformer FitRun(IDataView trainData, IDataView? validationData)
    {
        var total = Stopwatch.StartNew();
        Options.Validate();
        bool hasValidation = validationData is not null || Options.ValidationFraction > 0;
        Options.EarlyStopping?.Validate(Kind, hasValidation);
        if (Options.LearningRateSchedule is Schedules.ReduceOnPlateau plateau) plateau.Monitor?.Check(Kind, hasValidation, "ReduceOnPlateau.Monitor");
        var arch = CreateArchitecture();
        arch.Validate();
        var device = DeviceResolver.Resolve(Options.Device);
        using var threads = TorchThreads.Use(Options.ThreadCount); // this thread's LibTorch threads, for the whole fit

        var feature = RequireColumn(trainData.Schema, Options.FeatureColumnName, nameof(TrainerOptions.FeatureColumnName), "training");
        arch = arch.ForTrainingColumn(feature.Name, feature.Type); // what the training column tells (e.g. vocabulary) is saved with the model
        var classNames = CheckColumns(trainData.Schema, arch.Layout, "training");
        if (validationData is not null) CheckValidationColumns(validationData.Schema, arch.Layout, classNames);
        arch.CheckMemory(new HeadSpec { Kind = Kind, ClassNames = classNames }.OutputSize); // before LibTorch is asked for the memory

        int seed = ResolveSeed();
        using var channel = _env?.Start("MLNetDeep");
        channel?.Info(MessageSensitivity.None, $"LibTorch threads: {TorchThreads.Describe(Options.ThreadCount)}.");
        using var random = new TrainingRandom(seed);
        var warmStart = Options.WarmStartFrom;
        bool replaceOutput = Options.Transfer?.ReplacesOutput == true;
        // A warm start continues with the saved head (classes, label scaling) unless the output layer is replaced.
        var spec0 = replaceOutput ? null : warmStart?.Spec;
        if (spec0 is not null && Head.HasClasses && Kind != PredictionKind.BinaryClassification && !spec0.ClassNames.SequenceEqual(classNames))
            throw new ArgumentException(
                $"WarmStartFrom was trained on {spec0.ClassNames.Length} classes ({string.Join(", ", spec0.ClassNames.Take(10))}) but the label column " +
                $"'{Options.LabelColumnName}' has {classNames.Length} ({string.Join(", ", classNames.Take(10))}). Map labels with the same MapValueToKey as " +
                "the saved model, or set Transfer = new TransferOptions { ReplaceOutputLayer = true } to train a new output layer.", nameof(TrainerOptions.WarmStartFrom));
        var (train, val) = LoadData(trainData, validationData, arch.Layout, spec0 is null ? null : Head.ForWarmStart(spec0, OutputNames()), classNames, device, seed, channel);
        try
        {
            WarnOnUnscaledFeatures(channel, train);
            var network = random.Use(() => CreateNetwork(arch, train.Spec, warmStart));
            network.to(device);
            var history = new TrainingHistory { TrainingRows = train.Count, ValidationRows = val?.Count ?? 0 };
            if (Options.Pretraining is { } pre)
            {
                // Pretraining draws from a generator of its own, seeded from the run's stream, so it needs no process-wide lock.
                int pretrainingSeed = random.Use(Pretraining.LayerwisePretrainer.DrawSeed);
                Pretrain(network, pre, train, arch.Layout, device, history, channel, pretrainingSeed);
            }
            DeepTransformer Result()
            {
                network.eval();
                history.TotalDuration = total.Elapsed;
                var description = new ModelDescription
                {
                    Architecture = arch,
                    Head = train.Spec,
                    FeatureColumnName = Options.FeatureColumnName,
                    FeatureVectorSize = feature.Type is VectorDataViewType { IsKnownSize: true } vt ? vt.Size : null,
                    LongestRowValues = Math.Max(train.LongestRow, val?.LongestRow ?? 0),
                    ScoringBatchSize = Options.ScoringBatchSize,
                    History = history,
                    ByteScaling = TrainingDataLoader.IsByteColumn(trainData.Schema, Columns(arch.Layout)) && !Options.Data.ByteScaling.IsIdentity
                        ? Options.Data.ByteScaling : null,
                };
                return new DeepTransformer(description, network, device) { ThreadCount = Options.ThreadCount };
            }
            try
            {
                Train(network, train, val, history, seed, random, channel);
            }
            catch (Divergence.DivergedSignal d)
            {
                throw new TrainingDivergedException(d.Message, d.HasWeights ? Result() : null, history);
            }
            return Result();
        }
        finally
        {
            train.Dispose();
            val?.Dispose();
        }
    }

    /// <summary>The optimizer, the loss, the components and the loop of one run.</summary>
    private void Train(DeepNetwork network, ITrainingData train, ITrainingData? val, TrainingHistory history, int seed,
        TrainingRandom random, IChannel? channel)
    {
        var groups = CreateParameterGroups(network);
        var trainable = groups.SelectMany(g => g.Parameters).ToList();
        var weightSet = network.named_parameters().Where(p => p.parameter.dim() > 1 && p.name.EndsWith("weight")).Select(p => p.parameter.Handle).ToHashSet();
        var weights = trainable.Where(p => weightSet.Contains(p.Handle)).ToList();
        using var updater = Options.Optimizer.CreateUpdater(groups);
        using var loss = TaskLoss.Create(Head, train.Spec, Options.Regularization, train.RawLabels, trainable.FirstOrDefault()?.device ?? CPU);
        var plan = new BatchPlan(Options.BatchSize, Options.Shuffle, seed);
        long batchSize = Math.Min(Options.BatchSize, train.Count);
        var context = new TrainingContext(network, history, Options, Kind, updater, trainable, weights, random, seed,
            (train.Count + batchSize - 1) / batchSize,
            channel is null ? null : m => channel.Info(MessageSensitivity.None, m),
            channel is null ? null : m => channel.Warning(MessageSensitivity.None, m));
        var components = CreateComponents(network);
        try
        {
            new TrainingLoop(context, network, CreateSteps(loss), plan, components).Run(train, val);
        }
        finally
        {
            foreach (var c in components) if (c is IDisposable d && !(Options.Callbacks?.Contains(c) ?? false)) d.Dispose();
        }
    }

    /// <summary>
    /// The loop's components in call order: the defaults (schedule, regularisation, diagnostics, transfer, divergence guard,
    /// early stopping, progress), then the user's callbacks, then checkpointing, which saves what all the others hold.
    /// </summary>
    private List<TrainingCallback> CreateComponents(DeepNetwork network)
    {
        var components = new List<TrainingCallback>
        {
            new Schedules.ScheduleCallback(Options.LearningRateSchedule, Options.Optimizer.LearningRate, Kind),
            new Regularization.RegularizationCallback(Options.Regularization),
        };
        if (Options.Diagnostics is { } d) components.Add(new Diagnostics.GradientMonitor(network, d));
        if (Options.Transfer is { } t) components.Add(new Transfer.TransferCallback(t));
        components.Add(new Divergence.DivergenceGuard(Options.Regularization));
        if (Options.EarlyStopping is { } es) components.Add(new EarlyStopping.EarlyStoppingCallback(es, Kind));
        components.Add(new ProgressCallback(Options.OnEpochEnd));
        components.Add(new CpuContentionMonitor(TorchThreads.Resolve(Options.ThreadCount)));
        if (Options.Callbacks is { } user) components.AddRange(user);
        if (Options.Checkpoints is { } ck) components.Add(new Checkpoints.CheckpointCallback(ck, () => components));
        return components;
    }

    /// <summary>
    /// Reads the training rows (and the validation rows, or a seeded fraction of the training rows), in memory or streaming
    /// as <see cref="TrainerOptions.Data"/> says; the log says which and why.
    /// </summary>
    private (ITrainingData Train, ITrainingData? Validation) LoadData(IDataView trainData, IDataView? validationData, FeatureLayout layout,
        HeadSpec? spec, string[] classNames, Device device, int seed, IChannel? channel) =>
        TrainingDataLoader.Load(new DataRequest(trainData, validationData, Columns(layout), spec, classNames, device, OutputNames(), seed,
            Options.ValidationFraction, Options.BatchSize, Options.Data, Options.CancellationToken),
            channel is null ? null : m => channel.Info(MessageSensitivity.None, m));

    private DataColumns Columns(FeatureLayout layout) =>
        new(layout, Options.FeatureColumnName, Head, Options.LabelColumnName, Options.ExampleWeightColumnName);

    private OutputColumnNames OutputNames() => new()
    {
        Score = Options.ScoreColumnName, PredictedLabel = Options.PredictedLabelColumnName, Probability = Options.ProbabilityColumnName,
    };

    private DeepNetwork CreateNetwork(NetworkArchitecture arch, HeadSpec spec, DeepTransformer? warmStart)
    {
        var network = arch.Build(spec.OutputSize, Options.Initializer);
        if (warmStart is null)
        {
            if (Options.Transfer is { } t && (t.FreezeBlocks > 0 || t.FreezeModules is { Count: > 0 } || t.ReinitializedPrefixes().Count > 0))
                throw new ArgumentException("Transfer freezes or replaces layers of a trained model, but WarmStartFrom is not set. " +
                                            "Set WarmStartFrom to the trained model (DeepTransformer.Load(path)) or remove Transfer.", nameof(TrainerOptions.Transfer));
            return network;
        }
        var reinit = Options.Transfer?.ReinitializedPrefixes() ?? Array.Empty<string>();
        bool replaceOutput = Options.Transfer?.ReplacesOutput == true;
        if (warmStart.Kind != Kind || (!replaceOutput && warmStart.Spec.OutputSize != spec.OutputSize))
            throw new ArgumentException(
                $"WarmStartFrom holds a {warmStart.Kind} model with {warmStart.Spec.OutputSize} outputs; this trainer needs {Kind} with {spec.OutputSize}." +
                (warmStart.Kind == Kind ? " To reuse its body with a new output layer, set Transfer = new TransferOptions { ReplaceOutputLayer = true }." : ""),
                nameof(TrainerOptions.WarmStartFrom));
        try
        {
            if (reinit.Count > 0) Transfer.TransferLearning.CopyAllBut(warmStart.Network, network, reinit);
            else warmStart.CopyWeightsTo(network);
        }
        catch (Exception e)
        {
            throw new ArgumentException(
                "WarmStartFrom's network does not match this trainer's architecture (layers, sizes or image shape differ). " +
                $"Use the same architecture options as the saved model. Details: {e.Message}", nameof(TrainerOptions.WarmStartFrom), e);
        }
        return network;
    }

    /// <summary>Greedy layer-wise pretraining on the training rows and/or the unlabeled rows.</summary>
    private void Pretrain(DeepNetwork network, Pretraining.PretrainingOptions pre, ITrainingData train, FeatureLayout layout, Device device,
        TrainingHistory history, IChannel? channel, int seed)
    {
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        if (pre.IncludeTrainingRows) parts.Add(cat(train.InOrder(train.Count).Select(b => b.Features).ToList(), 0));
        if (pre.UnlabeledData is { } unlabeled) parts.Add(Pretraining.LayerwisePretrainer.LoadFeatures(unlabeled, layout, Options.FeatureColumnName).to(device));
        var all = parts.Count == 1 ? parts[0] : cat(parts, 0);
        history.Pretraining.AddRange(Pretraining.LayerwisePretrainer.Run(network, pre, all, pre.BatchSize ?? Options.BatchSize,
            m => channel?.Info(MessageSensitivity.None, m), seed));
    }

    /// <summary>
    /// The parameter groups handed to the optimizer: every trainable parameter, split by learning-rate multiplier
    /// when <see cref="TrainerOptions.Transfer"/> sets any; frozen parameters are left out.
    /// </summary>
    private protected virtual IReadOnlyList<ParameterGroup> CreateParameterGroups(DeepNetwork network) =>
        Options.Transfer is { } t ? Transfer.TransferLearning.Groups(network, t) : new[] { new ParameterGroup("all", network.parameters().Where(p => p.requires_grad).ToList()) };

    private static void WarnOnUnscaledFeatures(IChannel? channel, ITrainingData train)
    {
        if (channel is null) return;
        using var scope = NewDisposeScope();
        var batch = train.InOrder(1024).First();
        if (!batch.Features.is_floating_point()) return; // token ids, not measurements
        double maxAbs = batch.Features.abs().max().item<float>();
        if (maxAbs > 20)
            channel.Warning(MessageSensitivity.None,
                $"Feature values reach {maxAbs:G4}; deep nets train best on inputs of about unit scale. " +
                "Scale them (ExtractPixels(scaleImage: 1f/255), NormalizeMinMax or NormalizeMeanVariance).");
    }

    /// <summary>Checks that the feature, label and weight columns exist with usable types; returns the class names.</summary>
    private string[] CheckColumns(DataViewSchema schema, FeatureLayout layout, string role)
    {
        var feature = RequireColumn(schema, Options.FeatureColumnName, nameof(TrainerOptions.FeatureColumnName), role);
        layout.ValidateColumn(feature.Name, feature.Type);
        var label = RequireColumn(schema, Options.LabelColumnName, nameof(TrainerOptions.LabelColumnName), role);
        var names = Head.CheckLabelColumn(label);
        if (Options.ExampleWeightColumnName is string w)
        {
            var weight = RequireColumn(schema, w, nameof(TrainerOptions.ExampleWeightColumnName), role);
            if (weight.Type != NumberDataViewType.Single)
                throw new ArgumentException($"Example-weight column '{w}' has type {weight.Type}; it must be Single. " +
                                            $"Convert it with mlContext.Transforms.Conversion.ConvertType(\"{w}\", outputKind: DataKind.Single).", w);
        }
        return names;
    }

    /// <summary>
    /// The validation columns as the training ones, and for classes the same key mapping: same class names in the same
    /// order (a label keyed by another MapValueToKey would score every epoch against the wrong classes).
    /// </summary>
    private void CheckValidationColumns(DataViewSchema schema, FeatureLayout layout, string[] classNames)
    {
        var valNames = CheckColumns(schema, layout, "validation");
        if (!Head.HasClasses || Kind == PredictionKind.BinaryClassification) return;
        if (valNames.SequenceEqual(classNames)) return;
        string Show(string[] names) => string.Join(", ", names.Take(12).Select(n => $"'{n}'")) + (names.Length > 12 ? ", ..." : "");
        throw new ArgumentException(
            $"The validation label column '{Options.LabelColumnName}' is keyed differently from the training one: training has {classNames.Length} classes " +
            $"in key order {Show(classNames)}; validation has {valNames.Length} classes: {Show(valNames)}. Validation figures (and early stopping, " +
            "reduce-on-plateau and sweeps) would compare against the wrong classes. Fit one MapValueToKey (on all data or the training data) " +
            "and apply that same fitted transformer to both.", "validationData");
    }

    private static DataViewSchema.Column RequireColumn(DataViewSchema schema, string name, string option, string role)
    {
        var col = schema.GetColumnOrNull(name);
        if (col is null)
            throw new ArgumentOutOfRangeException(option, name,
                $"The {role} data has no column '{name}' ({option}). Columns present: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}. " +
                $"Set {option} or rename the column (e.g. mlContext.Transforms.CopyColumns).");
        return col.Value;
    }

    /// <summary>The output schema: the input columns plus Score / PredictedLabel / Probability as the task defines.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var feature = inputSchema.LastOrDefault(c => c.Name == Options.FeatureColumnName);
        if (feature.Name is null)
            throw new ArgumentOutOfRangeException(nameof(TrainerOptions.FeatureColumnName), Options.FeatureColumnName,
                $"The input has no feature column '{Options.FeatureColumnName}' (FeatureColumnName). Columns present: {string.Join(", ", inputSchema.Select(c => $"'{c.Name}'"))}. " +
                "Set FeatureColumnName or rename the column (e.g. mlContext.Transforms.CopyColumns).");
        if (feature.Kind == SchemaShape.Column.VectorKind.Scalar)
            throw new ArgumentException($"Feature column '{Options.FeatureColumnName}' is a scalar; MLNetDeep needs a numeric vector column.");
        var label = inputSchema.LastOrDefault(c => c.Name == Options.LabelColumnName);
        if (label.Name is null)
            throw new ArgumentOutOfRangeException(nameof(TrainerOptions.LabelColumnName), Options.LabelColumnName,
                $"The input has no label column '{Options.LabelColumnName}' (LabelColumnName). Columns present: {string.Join(", ", inputSchema.Select(c => $"'{c.Name}'"))}. " +
                "Set LabelColumnName or rename the column.");
        var outputs = Head.OutputShape(OutputNames()).ToList();
        var names = outputs.Select(c => c.Name).ToHashSet();
        return new SchemaShape(inputSchema.Where(c => !names.Contains(c.Name)).Concat(outputs));
    }
}

/// <summary>The loss became NaN or infinite, or exploded; the message names the epoch, step and likely causes.</summary>
public sealed class TrainingDivergedException : Exception
{
    internal TrainingDivergedException(string message, DeepTransformer? bestModel = null, TrainingHistory? history = null) : base(message)
    {
        BestModel = bestModel;
        History = history;
    }

    /// <summary>The model with the best weights seen before the loss diverged (null when no epoch finished).</summary>
    public DeepTransformer? BestModel { get; }
    /// <summary>The history up to the divergence.</summary>
    public TrainingHistory? History { get; }
}
