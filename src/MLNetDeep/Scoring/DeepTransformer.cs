using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;
using MLNetDeep.Models;
using MLNetDeep.Persistence;
using MLNetDeep.Runtime;
using MLNetDeep.Training;
using TorchSharp;
using static TorchSharp.torch;
using MLNetDeep.Tasks;

namespace MLNetDeep.Scoring;

/// <summary>
/// A trained MLNetDeep model in an ML.NET pipeline: <c>Transform</c> scores in batches (many rows per forward
/// pass), <c>PredictionEngine</c> row by row; output columns follow ML.NET's conventions for the task.
/// Save with <see cref="Save(string)"/> and load with <see cref="Load(string, MLNetDeep.Runtime.ComputeDevice)"/> (own format: restores identical
/// predictions and can continue training via <see cref="TrainerOptions.WarmStartFrom"/>).
/// </summary>
public sealed class DeepTransformer : ITransformer, IDisposable
{
    private readonly object _gate = new();
    private readonly DeepNetwork _network;
    private readonly Device _device;
    private readonly TaskHead _head;
    private readonly FeatureLayout _layout;
    private readonly Inference.ScoringEngineSlot _engine;
    private volatile bool _disposed;

    internal DeepTransformer(ModelDescription description, DeepNetwork network, Device device)
    {
        Description = description;
        _network = network;
        _device = device;
        _head = TaskHead.For(description.Head.Kind);
        _layout = description.Architecture.Layout;
        ScoringBatchSize = description.ScoringBatchSize;
        _network.eval();
        // ONNX Runtime's session gets ThreadCount intra-op threads (or the default), read when the session is made.
        _engine = new Inference.ScoringEngineSlot(this, device.type == DeviceType.CPU, description.ScoringEngine, () => TorchThreads.Resolve(_threadCount));
    }

    /// <summary>The saved description (architecture, task, classes, scoring engine, history).</summary>
    public ModelDescription Description { get; private set; }
    /// <summary>Training history (per-epoch loss, validation metrics, learning rate, timing; why training stopped).</summary>
    public TrainingHistory History => Description.History;
    /// <summary>What the model predicts.</summary>
    public PredictionKind Kind => Description.Head.Kind;
    /// <summary>Class names in key order (multiclass).</summary>
    public IReadOnlyList<string> ClassNames => Description.Head.ClassNames;
    /// <summary>The feature column read when scoring.</summary>
    public string FeatureColumnName => Description.FeatureColumnName;
    /// <summary>The TorchSharp network (eval mode). Use for inspection or export; don't train it directly.</summary>
    public DeepNetwork Network => _network;
    /// <summary>Rows per forward pass in <see cref="Transform"/>.</summary>
    public int ScoringBatchSize { get; set; }
    /// <summary>
    /// Intra-op threads while scoring: LibTorch's are set on the scoring thread for each batch, then put back; the ONNX
    /// Runtime engine's session is made with this count when it first scores (set it before scoring to change it). Null =
    /// the default of <see cref="TorchThreads"/>; a trained model starts with the trainer's <c>ThreadCount</c>. Not saved.
    /// </summary>
    public int? ThreadCount
    {
        get => _threadCount;
        set => _threadCount = value is null or > 0 ? value
            : throw new ArgumentOutOfRangeException(nameof(ThreadCount), value, $"ThreadCount must be >= 1, or null for the cores available to the process. Received: ThreadCount={value}");
    }
    private int? _threadCount;

    /// <summary>
    /// What runs the forward pass when this model scores: <see cref="Inference.ScoringEngine.Auto"/> (default: ONNX Runtime
    /// when MLNetDeep.Onnx and the native ONNX Runtime are in the application and the model exports, else LibTorch),
    /// <see cref="Inference.ScoringEngine.LibTorch"/> or <see cref="Inference.ScoringEngine.OnnxRuntime"/>. Outputs agree
    /// within 1e-5 and bad rows get the same errors either way. Saved with the model. Setting OnnxRuntime checks at once
    /// that ONNX Runtime can run the model (<see cref="NotSupportedException"/> or <see cref="InvalidOperationException"/>
    /// saying why); the ONNX Runtime engine is built from the weights as they are at the first scoring call.
    /// </summary>
    public Inference.ScoringEngine ScoringEngine
    {
        get => _engine.Requested;
        set
        {
            ThrowIfDisposed();
            _engine.Requested = value;
            Description = Description.WithScoringEngine(value);
        }
    }

    /// <summary>The engine that scores (LibTorch or OnnxRuntime), chosen at the first call from <see cref="ScoringEngine"/>.</summary>
    public Inference.ScoringEngine ActiveScoringEngine => _engine.Resolve().Engine;

    /// <summary>Which engine scores and why, e.g. why Auto fell back to LibTorch; also written once to the log when the trainer set one.</summary>
    public string ScoringEngineReason => _engine.Resolve().Reason;

    /// <summary>Where the engine choice is logged (the trainer's MLContext); null: not logged.</summary>
    internal Microsoft.ML.Runtime.IHostEnvironment? LogEnvironment { get => _engine.Log; set => _engine.Log = value; }

    internal HeadSpec Spec => Description.Head;
    internal TaskHead Head => _head;
    internal FeatureLayout Layout => _layout;

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        FeatureColumn(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        _head.AddOutputColumns(Spec, builder);
        return builder.ToSchema();
    }

    /// <summary>The feature column in <paramref name="schema"/>, checked against the model's input layout.</summary>
    internal DataViewSchema.Column FeatureColumn(DataViewSchema schema)
    {
        var col = schema.GetColumnOrNull(FeatureColumnName)
                  ?? throw new ArgumentOutOfRangeException(nameof(FeatureColumnName), FeatureColumnName,
                      $"The data to score has no column '{FeatureColumnName}', which this model reads. " +
                      "Apply the same featurisation as in training before the model.");
        _layout.ValidateColumn(col.Name, col.Type);
        if (Description.ByteScaling is { } scaling && !DataColumns.HoldsBytes(col.Type))
            throw new ArgumentException(
                $"Column '{col.Name}' has type {col.Type}, but this model was trained on a Byte column whose values it scales with {scaling}. " +
                "Score it with the same featurisation as in training (e.g. ExtractPixels(outputAsFloatArray: false)).", col.Name);
        return col;
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ThrowIfDisposed();
        MLNetInternals.ConvertToOnnxGuard.ThrowIfInsideMLNetConverter(); // ML.NET's ConvertToOnnx would write a graph without the network
        return new ScoredDataView(this, input ?? throw new ArgumentNullException(nameof(input)));
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new DeepRowMapper(this, inputSchema);

    /// <summary>A getter of an output column that reads the current row's postprocessed outputs from <paramref name="currentRow"/>.</summary>
    internal Delegate OutputGetter(DataViewSchema.Column column, Func<ReadOnlyMemory<float>> currentRow) =>
        _head.MakeGetter(Spec, _head.ColumnNamed(Spec, column.Name) ?? throw new InvalidOperationException($"'{column.Name}' is not an output column of this model."),
            currentRow);

    /// <summary>Output values a row of <paramref name="featureLength"/> feature values scores to (OutputSize, or steps × classes when tagging).</summary>
    internal int RowOutputSize(int featureLength) => _head.RowOutputSize(Spec, _layout, featureLength);

    /// <summary>
    /// Scores rows laid end to end in <paramref name="values"/> and writes the postprocessed outputs
    /// (probabilities, margins or predictions) into <paramref name="outputs"/>, <see cref="RowOutputSize"/> per row, end to end.
    /// </summary>
    internal void Score(ReadOnlySpan<float> values, ReadOnlySpan<int> rowLengths, Span<float> outputs)
    {
        if (_engine.TryScore(values, rowLengths, outputs)) return; // ONNX Runtime: no lock, concurrent calls run in parallel
        lock (_gate)
        {
            ThrowIfDisposed();
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            using var threads = TorchThreads.Use(_threadCount);
            var (x, lengths) = _layout.Collate(values, rowLengths);
            x = x.to(_device);
            if (Description.ByteScaling is { } scaling) x = scaling.Apply(x);
            var result = _head.ScoreBatch(Spec, _network, x, lengths?.to(_device)).to(ScalarType.Float32).cpu().contiguous();
            NativeBuffers.Floats(result).CopyTo(outputs);
        }
    }

    /// <summary>Runs <paramref name="read"/> under the model's lock (no LibTorch scoring, saving or disposing meanwhile): for readers of the weights.</summary>
    internal T WithWeights<T>(Func<T> read)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            return read();
        }
    }

    /// <summary>Copies this model's weights into a network of the same architecture (warm start).</summary>
    internal void CopyWeightsTo(DeepNetwork target)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            using var ms = new MemoryStream();
            using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) _network.save(w);
            ms.Position = 0;
            using var r = new BinaryReader(ms);
            target.load(r, strict: true);
        }
    }

    /// <summary>Saves to a file (atomically: a temporary file renamed into place).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        lock (_gate)
        {
            ThrowIfDisposed();
            ModelFile.WriteAtomic(path, Description, _network);
        }
    }

    /// <summary>Saves to a stream.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        lock (_gate)
        {
            ThrowIfDisposed();
            ModelFile.Write(stream, Description, _network);
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> once the model's native memory has been released.</summary>
    internal void ThrowIfDisposed()
    {
        if (_disposed)
            throw new ObjectDisposedException(nameof(DeepTransformer),
                "This model was disposed (its network's native memory is released), so it can't score, save or export. " +
                "Save it before disposing, or load it again with DeepTransformer.Load.");
    }

    /// <summary>Loads a model saved with <see cref="Save(string)"/>.</summary>
    public static DeepTransformer Load(string path, ComputeDevice device = ComputeDevice.Cpu)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No MLNetDeep model file at '{path}'.", path);
        using var fs = File.OpenRead(path);
        return Load(fs, device, $"'{path}'");
    }

    /// <summary>Loads a model saved with <see cref="Save(Stream)"/>.</summary>
    public static DeepTransformer Load(Stream stream, ComputeDevice device = ComputeDevice.Cpu) => Load(stream, device, "The stream");

    private static DeepTransformer Load(Stream stream, ComputeDevice device, string what)
    {
        TorchRuntime.EnsureLoaded();
        var (description, weights) = ModelFile.Read(stream, what);
        try
        {
            // A file is input like any other: its architecture gets the checks the options get before anything is built.
            if (description.Architecture is null || description.Head is null)
                throw new ArgumentException("it has no architecture or no task description");
            if (!Enum.IsDefined(description.Head.Kind)) throw new ArgumentException($"its task kind {description.Head.Kind} is not a known one");
            description.Architecture.Validate();
            description.Architecture.CheckMemory(description.Head.OutputSize);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{what} describes a network MLNetDeep can't build: {e.Message}", e);
        }
        var network = description.Architecture.Build(description.Head.OutputSize, null);
        try
        {
            ModelFile.LoadWeights(network, weights);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            network.Dispose();
            throw new InvalidDataException($"{what} has weights that do not match its architecture: {e.Message}", e);
        }
        var dev = DeviceResolver.Resolve(device);
        network.to(dev);
        return new DeepTransformer(description, network, dev);
    }

    /// <summary>
    /// Writes the model into an ML.NET model zip (<c>mlContext.Model.Save</c>) as public ML.NET transformers:
    /// an OnnxTransformer over the exported ONNX graph plus the transforms that rebuild the key columns, so
    /// <c>mlContext.Model.Load</c> gives a pipeline that scores the same (it needs the MLNetDeep.Onnx and
    /// Microsoft.ML.OnnxRuntime packages, not TorchSharp). For continued training keep using <see cref="Save(string)"/>.
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => Onnx.MLNetModelSave.Save(this, ctx);

    /// <summary>
    /// Exports the model as an ONNX file (written to a temporary file and renamed into place). The graph takes the
    /// flattened feature vectors [N, features] and outputs what <see cref="Transform"/> outputs (Score, and
    /// Probability / PredictedLabel by task); see <see cref="Onnx.OnnxNames"/>.
    /// </summary>
    /// <exception cref="Onnx.OnnxExportException">A layer can't be written as ONNX; the message names it and why.</exception>
    public void ExportToOnnx(string path, Onnx.OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        lock (_gate)
        {
            ThrowIfDisposed();
            bytes = Onnx.OnnxExporter.ToBytes(this, options, Onnx.OnnxGraphForm.Batch);
        }
        Onnx.OnnxExporter.WriteAtomic(path, bytes);
    }

    /// <summary>Exports the model as ONNX to a stream (see <see cref="ExportToOnnx(string, Onnx.OnnxExportOptions?)"/>).</summary>
    public void ExportToOnnx(Stream stream, Onnx.OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] bytes;
        lock (_gate)
        {
            ThrowIfDisposed();
            bytes = Onnx.OnnxExporter.ToBytes(this, options, Onnx.OnnxGraphForm.Batch);
        }
        stream.Write(bytes);
    }

    /// <summary>Releases the network's native memory; the model can't be used afterwards.</summary>
    public void Dispose()
    {
        _engine.Dispose(); // first, outside the lock: it waits for ONNX Runtime calls in flight (building it takes the lock)
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _network.Dispose();
        }
    }
}
