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
using MLNetDeep.Schedules;
using MLNetDeep.Scoring;
using TorchSharp;
using static TorchSharp.torch;

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
        var spec0 = warmStart?.Spec;
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
            RunEpochs(network, train, val, history, rng, channel);
            network.eval();
            history.TotalDuration = total.Elapsed;
            var description = new ModelDescription
            {
                Architecture = arch,
                Head = train.Spec,
                FeatureColumnName = Options.FeatureColumnName,
                ScoringBatchSize = Options.ScoringBatchSize,
                History = history,
            };
            return new DeepTransformer(description, network, device);
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
        if (warmStart is null) return network;
        if (warmStart.Kind != Kind || warmStart.Spec.OutputSize != spec.OutputSize)
            throw new ArgumentException(
                $"WarmStartFrom holds a {warmStart.Kind} model with {warmStart.Spec.OutputSize} outputs; this trainer needs {Kind} with {spec.OutputSize}.",
                nameof(TrainerOptions.WarmStartFrom));
        try
        {
            warmStart.CopyWeightsTo(network);
        }
        catch (Exception e)
        {
            throw new ArgumentException(
                "WarmStartFrom's network does not match this trainer's architecture (layers, sizes or image shape differ). " +
                $"Use the same architecture options as the saved model. Details: {e.Message}", nameof(TrainerOptions.WarmStartFrom), e);
        }
        return network;
    }

    private void RunEpochs(DeepNetwork network, InMemoryDataset train, InMemoryDataset? val, TrainingHistory history, Random rng, IChannel? channel)
    {
        var trainable = network.parameters().Where(p => p.requires_grad).ToList();
        _clipParameters = trainable;
        var weights = network.named_parameters().Where(p => p.parameter.requires_grad && p.parameter.dim() > 1 && p.name.EndsWith("weight")).Select(p => p.parameter).ToList();
        using var updater = Options.Optimizer.CreateUpdater(new[] { new ParameterGroup("all", trainable) });
        var schedule = Options.LearningRateSchedule ?? new ConstantSchedule();
        double baseRate = Options.Optimizer.LearningRate;
        double l2 = Options.Regularization?.L2 ?? 0;
        long n = train.Count;
        long batchSize = Math.Min(Options.BatchSize, n);
        long steps = (n + batchSize - 1) / batchSize;
        var callbacks = Options.Callbacks?.ToList() ?? new List<TrainingCallback>();
        var context = new TrainingContext(network, history, Options);
        foreach (var cb in callbacks) cb.OnTrainBegin(context);

        long globalStep = 0;
        var epochTimes = new List<double>();
        for (int epoch = 1; epoch <= Options.Epochs; epoch++)
        {
            var sw = Stopwatch.StartNew();
            context.Epoch = epoch;
            foreach (var cb in callbacks) cb.OnEpochBegin(context, epoch);
            network.train();
            double lossSum = 0;
            double rate = baseRate;
            using (var perm = Options.Shuffle ? tensor(InMemoryDataset.Permutation(n, rng)) : null)
            {
                for (long b = 0; b < steps; b++)
                {
                    using var scope = NewDisposeScope();
                    rate = schedule.RateAt(baseRate, globalStep, epoch - 1);
                    updater.SetLearningRate(rate);
                    context.GlobalStep = globalStep;
                    context.LearningRate = rate;
                    long start = b * batchSize, len = Math.Min(batchSize, n - start);
                    var batch = train.GetBatch(perm?.narrow(0, start, len), start, len);
                    double loss = TrainStep(network, updater, batch, weights, l2, context, callbacks);
                    if (!double.IsFinite(loss))
                        throw new TrainingDivergedException(
                            $"Training diverged: the loss became {loss} at epoch {epoch}, step {b + 1} of {steps} (learning rate {rate:G4}). " +
                            "Likely causes: a learning rate too high for this optimizer, unscaled features (e.g. pixel values 0-255 instead of 0-1), " +
                            "or an initialisation that is too large. Lower Optimizer.LearningRate, scale the features, or add gradient clipping.");
                    lossSum += loss * len;
                    foreach (var cb in callbacks) cb.OnBatchEnd(context, (int)b, loss);
                    globalStep++;
                }
            }

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
            channel?.Info(MessageSensitivity.None, summary.ToString());
            Options.OnEpochEnd?.Invoke(summary);
            foreach (var cb in callbacks) cb.OnEpochEnd(context, summary);
            if (context.StopTraining)
            {
                history.StopReason = context.StopReason ?? $"stopped by a callback after epoch {epoch}";
                break;
            }
        }
        if (history.StopReason.Length == 0) history.StopReason = $"completed all {Options.Epochs} epochs";
        foreach (var cb in callbacks) cb.OnTrainEnd(context);
    }

    private double TrainStep(DeepNetwork network, IParameterUpdater updater, Batch batch, List<TorchSharp.Modules.Parameter> weights, double l2,
        TrainingContext context, List<TrainingCallback> callbacks)
    {
        updater.ZeroGrad();
        var output = Infer(network, batch.Features, batch.Lengths);
        var loss = ComputeLoss(output, batch.Labels, batch.Weights);
        loss.backward();
        foreach (var cb in callbacks) cb.OnGradientsComputed(context);
        if (l2 > 0)
        {
            using var _ = no_grad();
            foreach (var w in weights) w.grad?.add_(w, alpha: l2);
        }
        if (GradientClipNorm is double clip) nn.utils.clip_grad_norm_(_clipParameters!, clip);
        updater.Step();
        return loss.item<float>();
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
    internal TrainingDivergedException(string message) : base(message) { }
}
