using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetDeep.Checkpoints;
using MLNetDeep.Data;
using MLNetDeep.Diagnostics;
using MLNetDeep.EarlyStopping;
using MLNetDeep.MLNetInternals;
using MLNetDeep.Models;
using MLNetDeep.Optimizers;
using MLNetDeep.Persistence;
using MLNetDeep.Pretraining;
using MLNetDeep.Regularization;
using MLNetDeep.Runtime;
using MLNetDeep.Schedules;
using MLNetDeep.Scoring;
using MLNetDeep.Transfer;
using TorchSharp;
using static TorchSharp.torch;
using MLNetDeep.Tasks;

namespace MLNetDeep.Training;

/// <summary>
/// The training engine behind every MLNetDeep trainer. It owns the loop (epochs, batches, schedule,
/// validation, progress, callbacks) and leaves small steps to subclasses: the architecture
/// (<see cref="CreateArchitecture"/>), and overridable train/infer/loss steps.
/// </summary>
public abstract class DeepTrainer<TOptions> : IEstimator<DeepTransformer> where TOptions : TrainerOptions
{
    private readonly IHostEnvironment? _env;
    private List<TorchSharp.Modules.Parameter>? _clipParameters;
    private protected readonly TaskHead Head;

    /// <summary>The user's options (read, never changed).</summary>
    protected TOptions Options { get; }

    /// <summary>What this trainer predicts.</summary>
    public PredictionKind Kind => Head.Kind;

    private protected DeepTrainer(IHostEnvironment? env, TOptions options, PredictionKind kind)
    {
        _env = env;
        Options = options ?? throw new ArgumentNullException(nameof(options));
        Head = TaskHead.For(kind);
    }

    /// <summary>A fresh, validated architecture built from the options (a copy: later edits to the options don't leak in).</summary>
    protected abstract NetworkArchitecture CreateArchitecture();

    /// <summary>Forward pass used in training and validation.</summary>
    protected virtual Tensor Infer(DeepNetwork network, Tensor features, Tensor? lengths) => network.Forward(features, lengths);

    /// <summary>
    /// When set, gradients are rescaled after backward (and L2) so their global L2 norm over all trainable
    /// parameters is at most this value, before the optimizer step. Null (the default) = no clipping.
    /// </summary>
    private protected virtual double? GradientClipNorm => null;

    /// <summary>The scalar loss of a batch (task loss, example-weighted).</summary>
    protected virtual Tensor ComputeLoss(Tensor output, Tensor labels, Tensor? weights) => TaskHead.Reduce(Head.Loss(output, labels), weights);

    /// <summary>Trains on <paramref name="input"/>; validates on <see cref="TrainerOptions.ValidationData"/> or a fraction when set.</summary>
    public DeepTransformer Fit(IDataView input) => Fit(input, Options.ValidationData);

    /// <summary>Trains on <paramref name="trainData"/>, scoring <paramref name="validationData"/> after every epoch.</summary>
    public DeepTransformer Fit(IDataView trainData, IDataView? validationData)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        var total = Stopwatch.StartNew();
        Options.Validate();
        Options.EarlyStopping?.Validate(validationData is not null || Options.ValidationFraction > 0);
        var arch = CreateArchitecture();
        arch.Validate();
        var layout = arch.Layout;
        var device = DeviceResolver.Resolve(Options.Device);

        var classNames = CheckColumns(trainData.Schema, layout, "training");
        if (validationData is not null)
        {
            var valNames = CheckColumns(validationData.Schema, layout, "validation");
            if (Kind is PredictionKind.MulticlassClassification or PredictionKind.SequenceTagging && valNames.Length != classNames.Length)
                throw new ArgumentException(
                    $"Validation label column '{Options.LabelColumnName}' has {valNames.Length} classes but the training data has {classNames.Length}. " +
                    "Fit one MapValueToKey on all data (or the training data) and apply the same transformer to both.", nameof(validationData));
        }

        int seed = Options.Seed ?? Random.Shared.Next();
        var rng = new Random(seed);
        torch.random.manual_seed(seed);

        using var channel = _env?.Start("MLNetDeep");
        var warmStart = Options.WarmStartFrom;
        bool replaceOutput = Options.Transfer?.ReplacesOutput == true;
        // A warm start continues with the saved head (classes, label scaling) unless the output layer is replaced.
        var spec0 = replaceOutput ? null : warmStart?.Spec;
        if (spec0 is not null && Kind == PredictionKind.MulticlassClassification && !spec0.ClassNames.SequenceEqual(classNames))
            throw new ArgumentException(
                $"WarmStartFrom was trained on {spec0.ClassNames.Length} classes ({string.Join(", ", spec0.ClassNames.Take(10))}) but the label column " +
                $"'{Options.LabelColumnName}' has {classNames.Length} ({string.Join(", ", classNames.Take(10))}). Map labels with the same MapValueToKey as " +
                "the saved model, or set Transfer = new TransferOptions { ReplaceOutputLayer = true } to train a new output layer.", nameof(TrainerOptions.WarmStartFrom));
        var train = InMemoryDataset.Load(trainData, "training", layout, Options.FeatureColumnName, Head,
            Options.LabelColumnName, Options.ExampleWeightColumnName, spec0, classNames, device);
        InMemoryDataset? val = null;
        try
        {
            if (validationData is not null)
                val = InMemoryDataset.Load(validationData, "validation", layout, Options.FeatureColumnName, Head,
                    Options.LabelColumnName, Options.ExampleWeightColumnName, train.Spec, classNames, device);
            else if (Options.ValidationFraction > 0)
            {
                var (t, v) = train.Split(Options.ValidationFraction, rng);
                train.Dispose();
                (train, val) = (t, v);
            }
            WarnOnUnscaledFeatures(channel, train);

            var network = CreateNetwork(arch, train.Spec, warmStart);
            network.to(device);
            var history = new TrainingHistory { TrainingRows = train.Count, ValidationRows = val?.Count ?? 0 };
            if (Options.Pretraining is { } pre) Pretrain(network, pre, train, layout, device, history, channel);
            DeepTransformer Result()
            {
                network.eval();
                history.TotalDuration = total.Elapsed;
                var description = new ModelDescription
                {
                    Architecture = arch,
                    Head = train.Spec,
                    FeatureColumnName = Options.FeatureColumnName,
                    FeatureVectorSize = trainData.Schema[Options.FeatureColumnName].Type is Microsoft.ML.Data.VectorDataViewType { IsKnownSize: true } vt ? vt.Size : null,
                    LongestRowValues = Math.Max(train.LongestRow, val?.LongestRow ?? 0),
                    ScoringBatchSize = Options.ScoringBatchSize,
                    History = history,
                };
                return new DeepTransformer(description, network, device);
            }
            try
            {
                RunEpochs(network, train, val, history, seed, channel);
            }
            catch (DivergedSignal d)
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
            if (reinit.Count > 0) TransferLearning.CopyAllBut(warmStart.Network, network, reinit);
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

    /// <summary>Greedy layer-wise autoencoder pretraining on the training rows and/or the unlabeled rows.</summary>
    private void Pretrain(DeepNetwork network, PretrainingOptions pre, InMemoryDataset train, FeatureLayout layout, Device device,
        TrainingHistory history, IChannel? channel)
    {
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        if (pre.IncludeTrainingRows) parts.Add(train.GetBatch(null, 0, train.Count).Features);
        if (pre.UnlabeledData is { } unlabeled) parts.Add(LayerwisePretrainer.LoadFeatures(unlabeled, layout, Options.FeatureColumnName).to(device));
        var all = parts.Count == 1 ? parts[0] : cat(parts, 0);
        history.Pretraining.AddRange(LayerwisePretrainer.Run(network, pre, all, pre.BatchSize ?? Options.BatchSize,
            m => channel?.Info(MessageSensitivity.None, m)));
    }

    /// <summary>
    /// The parameter groups handed to the optimizer: every trainable parameter, split by learning-rate multiplier
    /// when <see cref="TrainerOptions.Transfer"/> sets any; frozen parameters are left out.
    /// </summary>
    private protected virtual IReadOnlyList<ParameterGroup> CreateParameterGroups(DeepNetwork network) =>
        Options.Transfer is { } t ? TransferLearning.Groups(network, t) : new[] { new ParameterGroup("all", network.parameters().Where(p => p.requires_grad).ToList()) };

    /// <summary>Puts the network in training mode before each epoch (frozen blocks stay in eval mode: batch-norm statistics don't move).</summary>
    protected virtual void SetTrainingMode(DeepNetwork network)
    {
        network.train();
        if (Options.Transfer is { } t) TransferLearning.FrozenToEval(network, t);
    }

    /// <summary>
    /// Changes a training batch's features before the forward pass (data augmentation). Never called for
    /// validation or scoring. Default: unchanged. <paramref name="features"/> is [B, ...layout shape].
    /// </summary>
    protected virtual Tensor AugmentFeatures(Tensor features) => features;

    private void RunEpochs(DeepNetwork network, InMemoryDataset train, InMemoryDataset? val, TrainingHistory history, int seed, IChannel? channel)
    {
        var groups = CreateParameterGroups(network);
        var trainable = groups.SelectMany(g => g.Parameters).ToList();
        _clipParameters = trainable;
        var weightSet = network.named_parameters().Where(p => p.parameter.dim() > 1 && p.name.EndsWith("weight")).Select(p => p.parameter.Handle).ToHashSet();
        var weights = trainable.Where(p => weightSet.Contains(p.Handle)).ToList();
        using var updater = Options.Optimizer.CreateUpdater(groups);
        using var reg = new Regularizer(Options.Regularization, Kind, trainable, weights, train.RawLabels, train.Spec.ClassNames.Length, trainable.FirstOrDefault()?.device ?? CPU);
        using var monitor = Options.Diagnostics is null ? null
            : new GradientMonitor(network, Options.Diagnostics, m => channel?.Warning(MessageSensitivity.None, m));
        using var stopper = Options.EarlyStopping is null ? null : new EarlyStoppingMonitor(Options.EarlyStopping);
        using var best = new BestWeightsTracker();
        double baseRate = Options.Optimizer.LearningRate;
        var scheduler = (Options.LearningRateSchedule ?? new ConstantSchedule()).CreateScheduler(baseRate);
        var onNonFinite = Options.Regularization?.OnNonFiniteLoss ?? NonFiniteLossAction.Throw;
        long n = train.Count;
        long batchSize = Math.Min(Options.BatchSize, n);
        long steps = (n + batchSize - 1) / batchSize;
        var callbacks = Options.Callbacks?.ToList() ?? new List<TrainingCallback>();
        var context = new TrainingContext(network, history, Options);
        foreach (var cb in callbacks) cb.OnTrainBegin(context);

        long globalStep = 0;
        int firstEpoch = 1;
        var ckpt = Options.Checkpoints;
        if (ckpt is { Resume: true } && TrainingCheckpoint.Exists(ckpt.Directory))
        {
            var info = TrainingCheckpoint.Load(ckpt.Directory, network, updater);
            TrainingCheckpoint.LoadSnapshots(ckpt.Directory, info, stopper, best);
            if (info.Seed != Options.Seed)
                throw new ArgumentException($"The checkpoint in '{ckpt.Directory}' was written with Seed={info.Seed?.ToString() ?? "null"}; this run has Seed={Options.Seed?.ToString() ?? "null"}. " +
                                            "Use the interrupted run's seed, or another Checkpoints.Directory.", nameof(TrainerOptions.Seed));
            (firstEpoch, globalStep) = (info.Epoch + 1, info.GlobalStep);
            history.Epochs.AddRange(info.History.Epochs);
            history.Diagnostics.AddRange(info.History.Diagnostics);
            history.StoppedEpoch = info.Epoch;
            if (info.History.StopReason.Length > 0)
            {
                // That run had already stopped (early stopping, a callback): don't train past its stop.
                history.StopReason = info.History.StopReason;
                firstEpoch = Options.Epochs + 1;
            }
            channel?.Info(MessageSensitivity.None, $"resuming from the checkpoint of epoch {info.Epoch} in '{ckpt.Directory}'");
        }
        var epochTimes = new List<double>();
        string? diverged = null;
        for (int epoch = firstEpoch; epoch <= Options.Epochs && diverged is null; epoch++)
        {
            var sw = Stopwatch.StartNew();
            context.Epoch = epoch;
            foreach (var cb in callbacks) cb.OnEpochBegin(context, epoch);
            SetTrainingMode(network);
            double lossSum = 0;
            double rate = baseRate;
            // Each epoch's shuffle comes from (seed, epoch) alone, so a resumed run shuffles as an uninterrupted one.
            using (var perm = Options.Shuffle ? tensor(InMemoryDataset.Permutation(n, new Random(unchecked(seed * 1_000_003 + epoch)))) : null)
            {
                for (long b = 0; b < steps; b++)
                {
                    Options.CancellationToken.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    rate = scheduler.RateAt(globalStep, epoch - 1);
                    updater.SetLearningRate(rate);
                    context.GlobalStep = globalStep;
                    context.LearningRate = rate;
                    long start = b * batchSize, len = Math.Min(batchSize, n - start);
                    var batch = train.GetBatch(perm?.narrow(0, start, len), start, len);
                    monitor?.BeginStep(globalStep);
                    double loss = TrainStep(network, updater, batch, reg, monitor, context, callbacks);
                    if (!double.IsFinite(loss))
                    {
                        diverged = $"Training diverged: the loss became {loss} at epoch {epoch}, step {b + 1} of {steps} (learning rate {rate:G4}). " +
                                   "Likely causes: a learning rate too high for this optimizer, unscaled features (e.g. pixel values 0-255 instead of 0-1), " +
                                   "or an initialisation that is too large. Lower Optimizer.LearningRate, scale the features, or add gradient clipping " +
                                   "(Regularization.GradientClipNorm).";
                        break;
                    }
                    lossSum += loss * len;
                    foreach (var cb in callbacks) cb.OnBatchEnd(context, (int)b, loss);
                    globalStep++;
                }
            }
            if (diverged is not null) break;

            var (valLoss, metrics) = val is null ? ((double?)null, new Dictionary<string, double>()) : Evaluate(network, val);
            sw.Stop();
            epochTimes.Add(sw.Elapsed.TotalSeconds);
            var summary = new EpochSummary
            {
                Epoch = epoch,
                Epochs = Options.Epochs,
                TrainLoss = lossSum / n,
                ValidationLoss = valLoss,
                ValidationMetrics = metrics,
                LearningRate = rate,
                Duration = sw.Elapsed,
                EstimatedRemaining = TimeSpan.FromSeconds(epochTimes.Average() * (Options.Epochs - epoch)),
                SamplesPerSecond = n / sw.Elapsed.TotalSeconds,
            };
            history.Epochs.Add(summary);
            history.StoppedEpoch = epoch;
            if (monitor is not null) history.Diagnostics.Add(monitor.EndEpoch(epoch));
            best.Offer(network, summary);
            scheduler.OnEpochEnd(summary); // stateful schedules (ReduceOnPlateau) read the epoch's figures
            channel?.Info(MessageSensitivity.None, summary.ToString());
            Options.OnEpochEnd?.Invoke(summary);
            foreach (var cb in callbacks) cb.OnEpochEnd(context, summary);
            if (stopper?.OnEpochEnd(network, summary) is string reason && !context.StopTraining)
            {
                context.StopTraining = true;
                context.StopReason = reason;
            }
            if (context.StopTraining) history.StopReason = context.StopReason ?? $"stopped by a callback after epoch {epoch}";
            if (ckpt is not null && (epoch % ckpt.EveryEpochs == 0 || epoch == Options.Epochs || context.StopTraining))
            {
                // Snapshots first: info.json, written last, is what marks the checkpoint complete.
                System.IO.Directory.CreateDirectory(ckpt.Directory);
                TrainingCheckpoint.SaveSnapshots(ckpt.Directory, stopper, best);
                TrainingCheckpoint.Save(ckpt.Directory, TrainingCheckpoint.Describe(epoch, globalStep, Options.Seed, history, stopper, best), network, updater);
            }
            if (context.StopTraining) break;
        }
        history.BestEpoch = stopper?.BestEpoch ?? best.BestEpoch;
        if (diverged is not null)
        {
            // Put back the best weights seen so far (if an epoch finished) before stopping or throwing.
            history.RestoredEpoch = best.Restore(network);
            if (onNonFinite == NonFiniteLossAction.Throw || history.RestoredEpoch is null)
                throw new DivergedSignal(diverged + (history.RestoredEpoch is int r
                    ? $" The best weights so far (epoch {r}) are in the exception's BestModel."
                    : " No epoch finished, so there are no weights worth keeping."), history.RestoredEpoch is not null);
            history.StopReason = diverged + $" Restored the weights of epoch {history.RestoredEpoch} (Regularization.OnNonFiniteLoss = StopAndRestoreBest).";
            channel?.Warning(MessageSensitivity.None, history.StopReason);
        }
        else if (stopper?.RestoreBest(network) is int restored)
        {
            history.RestoredEpoch = restored;
            channel?.Info(MessageSensitivity.None, $"restored the weights of epoch {restored} (best {Options.EarlyStopping!.Monitor})");
        }
        if (history.StopReason.Length == 0) history.StopReason = $"completed all {Options.Epochs} epochs";
        foreach (var cb in callbacks) cb.OnTrainEnd(context);
        if (Options.Transfer is not null) foreach (var p in network.parameters()) p.requires_grad = true;
    }

    /// <summary>
    /// One optimisation step: forward on the (augmented) batch, training loss, backward, diagnostics and callbacks,
    /// penalty gradients, clipping, optimizer step, post-step constraints. Returns the batch loss; when it is not
    /// finite, nothing is updated.
    /// </summary>
    private double TrainStep(DeepNetwork network, IParameterUpdater updater, Batch batch, Regularizer reg, GradientMonitor? monitor,
        TrainingContext context, List<TrainingCallback> callbacks)
    {
        updater.ZeroGrad();
        var output = Infer(network, AugmentFeatures(batch.Features), batch.Lengths);
        var loss = TrainingLoss(output, batch.Labels, batch.Weights, reg);
        double value = loss.item<float>();
        if (!double.IsFinite(value)) return value;
        loss.backward();
        monitor?.OnGradients();
        foreach (var cb in callbacks) cb.OnGradientsComputed(context);
        reg.AddPenaltyGradients();
        context.GradientNorm = reg.ClipGradients();
        // The family's default clipping (recurrent nets clip by global norm unless Regularization already does).
        if (context.GradientNorm is null && GradientClipNorm is double clip) context.GradientNorm = nn.utils.clip_grad_norm_(_clipParameters!, clip);
        foreach (var cb in callbacks) cb.OnBeforeStep(context);
        updater.Step();
        reg.AfterStep(context.LearningRate);
        monitor?.AfterStep();
        return value;
    }

    /// <summary>The training loss: the task loss with label smoothing and class weights when set (validation uses the plain loss).</summary>
    private Tensor TrainingLoss(Tensor output, Tensor labels, Tensor? weights, Regularizer reg)
    {
        var combined = reg.CombineWeights(labels, weights);
        return reg.SmoothedLoss(output, labels) is Tensor perExample ? TaskHead.Reduce(perExample, combined) : ComputeLoss(output, labels, combined);
    }

    /// <summary>Validation loss and metrics over a whole data set (eval mode, no gradients).</summary>
    private (double? Loss, Dictionary<string, double> Metrics) Evaluate(DeepNetwork network, InMemoryDataset data)
    {
        network.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long chunk = Math.Max(Options.ScoringBatchSize, 512);
        var outputs = new List<Tensor>();
        for (long start = 0; start < data.Count; start += chunk)
        {
            var batch = data.GetBatch(null, start, Math.Min(chunk, data.Count - start));
            outputs.Add(Infer(network, batch.Features, batch.Lengths));
        }
        var all = data.GetBatch(null, 0, data.Count);
        var output = CatRows(outputs);
        double loss = ComputeLoss(output, all.Labels, all.Weights).item<float>();
        return (loss, Head.Metrics(data.Spec, output, all.Labels));
    }

    /// <summary>Concatenates per-chunk outputs along rows; per-step outputs [B, T, K] of different T are zero-padded to the longest.</summary>
    private static Tensor CatRows(List<Tensor> outputs)
    {
        if (outputs.Count == 1 || outputs[0].dim() < 3) return cat(outputs, 0);
        long steps = outputs.Max(o => o.shape[1]);
        return cat(outputs.Select(o => o.shape[1] == steps ? o : nn.functional.pad(o, new long[] { 0, 0, 0, steps - o.shape[1] })).ToList(), 0);
    }

    private static void WarnOnUnscaledFeatures(IChannel? channel, InMemoryDataset train)
    {
        if (channel is null) return;
        using var scope = NewDisposeScope();
        var batch = train.GetBatch(null, 0, Math.Min(train.Count, 1024));
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
        var outputs = Head.OutputShape(label).ToList();
        var names = outputs.Select(c => c.Name).ToHashSet();
        return new SchemaShape(inputSchema.Where(c => !names.Contains(c.Name)).Concat(outputs));
    }
}

/// <summary>The loss became NaN or infinite; the message names the epoch, step and likely causes.</summary>
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

/// <summary>Carries a divergence out of the epoch loop to <c>Fit</c>, which wraps the best model into the public exception.</summary>
internal sealed class DivergedSignal : Exception
{
    public DivergedSignal(string message, bool hasWeights) : base(message) => HasWeights = hasWeights;
    public bool HasWeights { get; }
}
