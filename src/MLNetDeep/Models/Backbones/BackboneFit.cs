using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetDeep.Augmentation;
using MLNetDeep.Data;
using MLNetDeep.MLNetInternals;
using MLNetDeep.Models.Cnn;
using MLNetDeep.OnnxImport;
using MLNetDeep.Persistence;
using MLNetDeep.Runtime;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Training;
using MLNetDeep.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Backbones;

/// <summary>
/// A CNN trainer's fit with a pretrained backbone, as Keras' transfer-learning recipe runs it: phase "head" trains the
/// head on the frozen backbone, phase "fine-tune" (with <see cref="CnnOptions.FineTune"/>) trains the top blocks and
/// the head at lower rates; a fit that starts from a trained backbone model (<c>WarmStartFrom</c>) is one phase whose
/// frozen prefix is <c>Transfer.FreezeBlocks</c>. The frozen blocks' outputs are computed once per row (batched, eval
/// mode, no gradients) before the first phase and the phases train on them, so the head phase costs what ML.NET's
/// featurizer route costs and fine-tuning pays only for the blocks it trains. Each phase is an ordinary engine run;
/// their histories join into one, with the phase of every epoch.
/// </summary>
internal sealed class BackboneFit
{
    /// <summary>The engine's warning about feature scale: it does not apply to a backbone's cached outputs.</summary>
    private const string UnscaledFeaturesWarning = "Feature values reach";
    private const int CacheBatchSize = 32;

    private readonly IHostEnvironment? _env;
    private readonly CnnOptions _options;
    private readonly PredictionKind _kind;

    public BackboneFit(IHostEnvironment? env, CnnOptions options, PredictionKind kind)
    {
        _env = env;
        _options = options;
        _kind = kind;
    }

    /// <summary>Whether a fit with these options goes through here: a backbone, or a warm start from a backbone model.</summary>
    public static bool Applies(CnnOptions options) =>
        options.Backbone is not null || options.WarmStartFrom?.Description.Architecture is BackboneArchitecture;

    /// <summary>One phase: its name, epochs, frozen prefix, rates, and the transfer options the engine sees (warm starts).</summary>
    private sealed record Phase(string Name, string Description, int Epochs, int Frozen, TransferOptions Freezing, bool BatchNormTrains, TransferOptions? EngineTransfer,
        ImageAugmentation? Augmentation)
    {
        /// <summary>Whether this phase trains on the frozen blocks' cached outputs: it has frozen blocks, no augmentation, and caching is on.</summary>
        public bool Cached(CnnOptions o) => o.CacheFrozenBlocks && Augmentation is null && Frozen > 0;
    }

    public DeepTransformer Run(IDataView trainData, IDataView? validationData)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        var total = Stopwatch.StartNew();
        var o = _options;
        o.Validate();
        CheckOptions(o);
        int seed = o.Seed ?? (_env is null ? null : MLNetBridge.GetSeed(_env)) ?? Random.Shared.Next();
        var device = DeviceResolver.Resolve(o.Device);
        using var channel = _env?.Start("MLNetDeep");
        var warm = o.WarmStartFrom;
        var arch = o.Backbone is { } backbone
            ? backbone.CreateArchitecture(o.ImageShape!, Json.Clone(o.Head))
            : ((BackboneArchitecture)warm!.Description.Architecture).From(0);
        try
        {
            arch.Validate();
            var phases = Plan(arch, o);
            var feature = trainData.Schema.GetColumnOrNull(o.FeatureColumnName)
                          ?? throw new ArgumentOutOfRangeException(nameof(TrainerOptions.FeatureColumnName), o.FeatureColumnName,
                              $"The training data has no column '{o.FeatureColumnName}' (FeatureColumnName). Columns present: " +
                              $"{string.Join(", ", trainData.Schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}. Set FeatureColumnName or rename the column.");
            arch.Layout.ValidateColumn(feature.Name, feature.Type);
            if (validationData is not null)
            {
                var v = validationData.Schema.GetColumnOrNull(o.FeatureColumnName)
                        ?? throw new ArgumentOutOfRangeException(nameof(TrainerOptions.FeatureColumnName), o.FeatureColumnName,
                            $"The validation data has no column '{o.FeatureColumnName}' (FeatureColumnName).");
                arch.Layout.ValidateColumn(v.Name, v.Type);
            }

            // The seeded validation split is made once here, so every phase validates on the same rows.
            bool[]? trainKeep = null, validationKeep = null;
            var validationSource = validationData;
            if (validationSource is null && o.ValidationFraction > 0)
            {
                (trainKeep, validationKeep) = Split(CountRows(trainData), o.ValidationFraction, seed);
                validationSource = trainData;
            }

            var cachedPhases = phases.Where(p => p.Cached(o)).ToList();
            bool cache = cachedPhases.Count > 0;
            var cuts = cachedPhases.Select(p => p.Frozen).Distinct().OrderBy(f => f).ToArray();
            var cacheClock = Stopwatch.StartNew();
            Dictionary<int, float[][]>? trainCache = null, validationCache = null;
            if (cache)
            {
                var (pre, body) = FrozenModules(arch, warm, device);
                trainCache = ComputeOutputs(trainData, o.FeatureColumnName, "training", arch, cuts, pre, body, channel);
                validationCache = validationData is null ? trainCache : ComputeOutputs(validationData, o.FeatureColumnName, "validation", arch, cuts, pre, body, channel);
                if (warm is null) pre.Dispose();
                channel?.Info(MessageSensitivity.None, string.Format(CultureInfo.InvariantCulture,
                    "{0}: computed the frozen blocks' outputs (after block{1}) of {2} rows once, in {3:F1} s; {4} on them, without augmentation.",
                    arch.BackboneName, string.Join(", block", cuts.Select(c => c - 1)), trainCache.First().Value.Length +
                    (validationData is null ? 0 : validationCache.First().Value.Length), cacheClock.Elapsed.TotalSeconds,
                    cachedPhases.Count == phases.Count(p => p.Frozen > 0) ? "the phases train" : $"phase {string.Join(", ", cachedPhases.Select(p => p.Name))} trains"));
            }
            foreach (var p in phases.Where(p => p.Frozen > 0 && !cachedPhases.Contains(p)))
                channel?.Info(MessageSensitivity.None, $"{arch.BackboneName}: in phase {p.Name} the frozen blocks run on every step ({(p.Augmentation is not null ? "its augmentation is on" : "CacheFrozenBlocks is off")}).");
            double cacheSeconds = cache ? cacheClock.Elapsed.TotalSeconds : 0;

            int plannedEpochs = phases.Sum(p => p.Epochs);
            var merged = new MergedHistory(plannedEpochs);
            DeepTransformer? previous = null;
            try
            {
                for (int i = 0; i < phases.Count; i++)
                {
                    var phase = phases[i];
                    bool cached = cachedPhases.Contains(phase);
                    var phaseArch = arch.From(cached ? phase.Frozen : 0);
                    IDataView train = trainKeep is null && !cached ? trainData : new FeatureRowsView(trainData, o.FeatureColumnName, trainKeep, cached ? trainCache![phase.Frozen] : null);
                    IDataView? validation = validationSource is null ? null
                        : validationKeep is null && !cached ? validationSource
                        : new FeatureRowsView(validationSource, o.FeatureColumnName, validationKeep, cached ? validationCache![phase.Frozen] : null);
                    string label = phases.Count > 1 ? $"phase {i + 1}/{phases.Count} {phase.Name}" : phase.Name;
                    channel?.Info(MessageSensitivity.None, $"{label}: {phase.Description}, {phase.Epochs} epochs{(cached ? ", on the cached outputs" : "")}.");
                    int offset = merged.Epochs.Count;
                    var inner = PhaseOptions(o, phase, seed + i, i == 0 ? warm : previous, cached, s => o.OnEpochEnd?.Invoke(Renumbered(s, offset, plannedEpochs, phase.Name)));
                    var env = InnerEnvironment(channel, seed, $"[{label}] ", cached);
                    DeepTransformer model;
                    try
                    {
                        model = new BackbonePhaseTrainer(env, inner, _kind, phaseArch, phase.Freezing, phase.BatchNormTrains).Fit(train, validation);
                    }
                    catch (TrainingDivergedException d)
                    {
                        if (d.History is not null) merged.Add(d.History, phase, cached, i == 0 ? cacheSeconds : 0);
                        var history = merged.Build(total.Elapsed);
                        throw new TrainingDivergedException($"{label}: {d.Message}", d.BestModel is null ? null : Final(d.BestModel, arch, history, feature), history);
                    }
                    merged.Add(model.History, phase, cached, i == 0 ? cacheSeconds : 0);
                    previous?.Dispose();
                    previous = model;
                }
                var result = Final(previous!, arch, merged.Build(total.Elapsed), feature);
                previous = null;
                return result;
            }
            finally
            {
                previous?.Dispose();
            }
        }
        finally
        {
            arch.Pretrained?.Dispose();
        }
    }

    private static void CheckOptions(CnnOptions o)
    {
        var warmArch = o.WarmStartFrom?.Description.Architecture as BackboneArchitecture;
        if (o.Backbone is not null)
        {
            if (o.Layers is not null)
                throw new ArgumentException("CnnOptions.Backbone and CnnOptions.Layers are both set: the backbone replaces the convolutional body. Remove Layers.", nameof(CnnOptions.Layers));
            if (o.ImageShape is null)
                throw new ArgumentNullException(nameof(CnnOptions.ImageShape),
                    "CnnOptions.ImageShape must be set to the images' channels x height x width, e.g. new ImageShape(3, 224, 224) after ResizeImages(224, 224) and ExtractPixels(scaleImage: 1f / 255).");
            if (o.WarmStartFrom is not null)
                throw new ArgumentException("CnnOptions.Backbone and WarmStartFrom are both set. To continue from a trained model, set WarmStartFrom alone (its backbone comes with it); " +
                                            "to start from the pretrained file, set Backbone alone.", nameof(CnnOptions.Backbone));
            if (o.Transfer is not null)
                throw new ArgumentException("Transfer applies to a warm start (WarmStartFrom). With a fresh Backbone, the backbone starts frozen; set FineTune to train its top blocks afterwards.", nameof(TrainerOptions.Transfer));
        }
        else if (o.FineTune is not null)
            throw new ArgumentException("FineTune follows the head phase of a fit from a fresh Backbone. To fine-tune a trained backbone model, set WarmStartFrom to it and " +
                                        "Transfer = new TransferOptions { FreezeBlocks = ..., BodyLearningRateMultiplier = 0.1 }.", nameof(CnnOptions.FineTune));
        if (warmArch is not null && o.ImageShape is not null && o.ImageShape != warmArch.ImageShape)
            throw new ArgumentException($"ImageShape {o.ImageShape} differs from WarmStartFrom's {warmArch.ImageShape}. Leave ImageShape unset or use the model's.", nameof(CnnOptions.ImageShape));
        if (o.Checkpoints is not null)
            throw new ArgumentException("Checkpoints are not supported yet with a backbone (its fit runs in phases). Remove Checkpoints.", nameof(TrainerOptions.Checkpoints));
        if (o.Pretraining is not null)
            throw new ArgumentException("Layer-wise pretraining does not apply to a pretrained backbone. Remove Pretraining.", nameof(TrainerOptions.Pretraining));
        if (o.Head is null) throw new ArgumentNullException(nameof(CnnOptions.Head), "CnnOptions.Head must be set (new DenseHead()).");
        o.Augmentation?.Validate();
    }

    /// <summary>The phases of this fit.</summary>
    private static List<Phase> Plan(BackboneArchitecture arch, CnnOptions o)
    {
        int n = arch.BlockCount;
        var head = new Dictionary<string, double> { [ModulePaths.Head] = 1.0 };
        if (o.WarmStartFrom is null)
        {
            var phases = new List<Phase>
            {
                new("head", $"head on the frozen {arch.BackboneName} (all {n} blocks frozen)", o.Epochs, n, new TransferOptions { FreezeBlocks = n }, false, null, o.Augmentation),
            };
            if (o.FineTune is { } ft)
            {
                ft.Validate(n);
                int frozen = n - ft.TrainableBlocks;
                phases.Add(new("fine-tune",
                    string.Format(CultureInfo.InvariantCulture, "blocks {0}-{1} of {2} trained at learning rate x{3:G3}, the head at x{4:G3}{5}",
                        frozen, n - 1, arch.BackboneName, ft.LearningRateMultiplier, ft.HeadLearningRateMultiplier,
                        ft.UpdateBatchNormStatistics ? "" : ", their batch norms in inference mode"),
                    ft.Epochs, frozen,
                    new TransferOptions
                    {
                        FreezeBlocks = frozen, BodyLearningRateMultiplier = ft.LearningRateMultiplier,
                        LearningRateMultipliers = new Dictionary<string, double> { [ModulePaths.Head] = ft.HeadLearningRateMultiplier },
                    },
                    ft.UpdateBatchNormStatistics, null, ft.Augmentation ?? o.Augmentation));
            }
            return phases;
        }
        var t = o.Transfer;
        int freeze = Math.Min(t?.FreezeBlocks ?? 0, n);
        if ((t?.FreezeBlocks ?? 0) > n)
            throw new ArgumentOutOfRangeException(nameof(TransferOptions.FreezeBlocks), t!.FreezeBlocks,
                $"Transfer.FreezeBlocks is larger than the backbone's {n} blocks. Received: FreezeBlocks={t.FreezeBlocks}");
        string what = freeze == n ? $"head on the frozen {arch.BackboneName}" : freeze == 0 ? $"all of {arch.BackboneName} and the head"
            : $"blocks {freeze}-{n - 1} of {arch.BackboneName} and the head (blocks 0-{freeze - 1} frozen)";
        return new List<Phase> { new(freeze == n ? "head" : "fine-tune", what, o.Epochs, freeze, t ?? new TransferOptions(), false, t, o.Augmentation) };
    }

    /// <summary>The options of one phase's engine run: a copy of the user's (never changed) with the phase's epochs, seed, start and rows.</summary>
    private static CnnOptions PhaseOptions(CnnOptions user, Phase phase, int seed, DeepTransformer? start, bool cached, Action<EpochSummary> onEpochEnd)
    {
        var inner = user.Clone();
        inner.Epochs = phase.Epochs;
        inner.Seed = seed;
        inner.ValidationData = null;
        inner.ValidationFraction = 0;
        inner.WarmStartFrom = start;
        inner.Transfer = phase.EngineTransfer;
        inner.Backbone = null;
        inner.FineTune = null;
        inner.Layers = null;
        inner.Augmentation = cached ? null : phase.Augmentation;
        inner.OnEpochEnd = onEpochEnd;
        return inner;
    }

    /// <summary>
    /// The environment a phase logs to: its lines go to the user's log with the phase in front (and, on cached outputs,
    /// without the engine's advice to scale the features, which does not apply to a network's activations).
    /// </summary>
    private static IHostEnvironment? InnerEnvironment(IChannel? channel, int seed, string prefix, bool cached)
    {
        if (channel is null) return null;
        var ml = new MLContext(seed);
        ml.Log += (_, e) =>
        {
            if (e.Kind == ChannelMessageKind.Warning)
            {
                if (!(cached && e.RawMessage.StartsWith(UnscaledFeaturesWarning, StringComparison.Ordinal)))
                    channel.Warning(MessageSensitivity.None, prefix + e.RawMessage);
            }
            else if (e.Kind == ChannelMessageKind.Info) channel.Info(MessageSensitivity.None, prefix + e.RawMessage);
        };
        return ml;
    }

    /// <summary>The preprocessing and backbone whose frozen blocks the cached outputs come from: the pretrained file's, or the warm start's.</summary>
    private static (PixelPreprocess Pre, OnnxNetwork Body) FrozenModules(BackboneArchitecture arch, DeepTransformer? warm, Device device)
    {
        if (warm is not null)
        {
            var net = (BackboneNetwork)warm.Network;
            return (net.Preprocess, net.Backbone);
        }
        var pretrained = arch.Pretrained ?? throw new InvalidOperationException("The backbone's pretrained weights are not loaded.");
        pretrained.Network.to(device);
        var pre = new PixelPreprocess(arch, pretrained.MeanImage);
        pre.to(device);
        return (pre, pretrained.Network);
    }

    /// <summary>
    /// Each row's output after blocks <paramref name="cuts"/> (ascending; each the count of blocks run), in batches,
    /// in eval mode without gradients: one pass of the frozen blocks per row.
    /// </summary>
    private static Dictionary<int, float[][]> ComputeOutputs(IDataView data, string featureColumn, string role, BackboneArchitecture arch, int[] cuts,
        PixelPreprocess pre, OnnxNetwork body, IChannel? channel)
    {
        var layout = (FixedShapeLayout)arch.Layout;
        var column = data.Schema[featureColumn];
        var outputs = cuts.ToDictionary(c => c, _ => new List<float[]>());
        long rowSize = layout.Size, row = 0;
        float largest = 0;
        var modelDevice = body.parameters().FirstOrDefault()?.device ?? CPU;
        bool preTraining = pre.training, bodyTraining = body.training;
        pre.eval();
        body.eval();
        try
        {
            var buffer = new float[CacheBatchSize * rowSize];
            int filled = 0;
            void Flush()
            {
                if (filled == 0) return;
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var x = pre.call(tensor(buffer.AsSpan(0, (int)(filled * rowSize)).ToArray(), layout.BatchShape(filled)).to(modelDevice));
                int done = 0;
                foreach (var cut in cuts)
                {
                    x = body.ForwardBlocks(x, done, cut);                      // [filled, ...block (cut - 1) output]
                    done = cut;
                    var flat = x.reshape(filled, -1).to(ScalarType.Float32).cpu().contiguous();
                    var values = flat.data<float>().ToArray();
                    int size = (int)flat.shape[1];
                    for (int r = 0; r < filled; r++) outputs[cut].Add(values.AsSpan(r * size, size).ToArray());
                }
                filled = 0;
            }
            using (var cursor = data.GetRowCursor(new[] { column }))
            {
                var reader = new FeatureColumnReader(cursor, column);
                while (cursor.MoveNext())
                {
                    var span = reader.Read();
                    layout.ValidateRow(featureColumn, row, span);
                    foreach (var v in span) largest = Math.Max(largest, Math.Abs(v));
                    span.CopyTo(buffer.AsSpan((int)(filled * rowSize)));
                    filled++;
                    row++;
                    if (filled == CacheBatchSize) Flush();
                }
            }
            Flush();
        }
        catch (InvalidOperationException e) when (e is not ObjectDisposedException)
        {
            throw new InvalidOperationException($"{arch.BackboneName} failed on the {role} images (row {row}): {e.Message}", e);
        }
        finally
        {
            if (preTraining) pre.train();
            if (bodyTraining) body.train();
        }
        if (row == 0) throw new InvalidDataException($"The {role} data has no rows. Check the file path, the loader's column definitions or an earlier filter.");
        if (largest > 1.5f)
            channel?.Warning(MessageSensitivity.None, string.Format(CultureInfo.InvariantCulture,
                "Feature column '{0}' ({1} data) reaches {2:G4}, but a backbone takes pixels in 0-1 and scales them as {3} was trained " +
                "({4}). Extract them with ExtractPixels(scaleImage: 1f / 255).", featureColumn, role, largest, arch.BackboneName, arch.Preprocessing));
        return outputs.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
    }

    private static (bool[] Train, bool[] Validation) Split(long count, double fraction, int seed)
    {
        long nVal = Math.Max(1, (long)Math.Round(count * fraction));
        if (nVal >= count)
            throw new ArgumentOutOfRangeException(nameof(TrainerOptions.ValidationFraction), fraction,
                $"ValidationFraction={fraction} leaves no training rows out of {count}. Use a smaller fraction or more data.");
        var perm = InMemoryDataset.Permutation(count, new Random(seed));
        var val = new bool[count];
        for (long i = 0; i < nVal; i++) val[perm[i]] = true;
        return (val.Select(v => !v).ToArray(), val);
    }

    private static long CountRows(IDataView data)
    {
        if (data.GetRowCount() is long n) return n;
        long count = 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext()) count++;
        return count;
    }

    /// <summary>A phase's epoch as the whole fit numbers it.</summary>
    private static EpochSummary Renumbered(EpochSummary s, int offset, int planned, string phase) => new()
    {
        Epoch = s.Epoch + offset, Epochs = planned, TrainLoss = s.TrainLoss, ValidationLoss = s.ValidationLoss, ValidationMetrics = s.ValidationMetrics,
        LearningRate = s.LearningRate, Duration = s.Duration, EstimatedRemaining = s.EstimatedRemaining, SamplesPerSecond = s.SamplesPerSecond, Phase = phase,
    };

    /// <summary>The whole fit's history, phase by phase.</summary>
    private sealed class MergedHistory
    {
        private readonly int _planned;
        private TrainingHistory? _first, _last;
        public MergedHistory(int planned) => _planned = planned;
        public List<EpochSummary> Epochs { get; } = new();
        public List<Diagnostics.EpochDiagnostics> Diagnostics { get; } = new();
        public List<TrainingPhase> Phases { get; } = new();
        public int Offset { get; private set; }

        public void Add(TrainingHistory h, Phase phase, bool cached, double cacheSeconds)
        {
            _first ??= h;
            _last = h;
            Offset = Epochs.Count;
            Epochs.AddRange(h.Epochs.Select(e => Renumbered(e, Offset, _planned, phase.Name)));
            Diagnostics.AddRange(h.Diagnostics);
            Phases.Add(new TrainingPhase
            {
                Name = phase.Name, Description = phase.Description, FirstEpoch = Offset + 1, LastEpoch = Offset + h.Epochs.Count,
                FrozenBlocks = phase.Frozen, CachedFeatures = cached, CacheSeconds = cacheSeconds, StopReason = h.StopReason,
            });
        }

        public TrainingHistory Build(TimeSpan duration)
        {
            var last = _last ?? new TrainingHistory();
            var history = new TrainingHistory
            {
                TrainingRows = _first?.TrainingRows ?? 0,
                ValidationRows = _first?.ValidationRows ?? 0,
                TotalDuration = duration,
                StoppedEpoch = Offset + last.StoppedEpoch,
                BestEpoch = last.BestEpoch is int b ? Offset + b : null,
                RestoredEpoch = last.RestoredEpoch is int r ? Offset + r : null,
                StopReason = Phases.Count > 1 ? string.Join("; ", Phases.Select(p => $"{p.Name}: {p.StopReason}")) : last.StopReason,
            };
            history.Epochs.AddRange(Epochs);
            history.Diagnostics.AddRange(Diagnostics);
            history.Phases.AddRange(Phases);
            return history;
        }
    }

    /// <summary>The trained model: the last phase's network, run from the images again, with the whole fit's history.</summary>
    private DeepTransformer Final(DeepTransformer last, BackboneArchitecture arch, TrainingHistory history, DataViewSchema.Column feature)
    {
        var network = (BackboneNetwork)last.Network;
        network.FirstBlock = 0;
        foreach (var p in network.parameters()) p.requires_grad = true;
        network.eval();
        var saved = Json.Clone(arch); // the saved description: no pretrained weights, runs from the images
        var description = new ModelDescription
        {
            Architecture = saved,
            Head = last.Spec,
            FeatureColumnName = _options.FeatureColumnName,
            FeatureVectorSize = feature.Type is VectorDataViewType { IsKnownSize: true } vt ? vt.Size : null,
            LongestRowValues = arch.ImageShape.Size,
            ScoringBatchSize = _options.ScoringBatchSize,
            History = history,
        };
        return new DeepTransformer(description, network, network.parameters().First().device);
    }
}
