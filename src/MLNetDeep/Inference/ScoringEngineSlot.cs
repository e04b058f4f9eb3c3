using Microsoft.ML.Runtime;
using MLNetDeep.Scoring;

namespace MLNetDeep.Inference;

/// <summary>
/// The scoring engine of one <see cref="DeepTransformer"/>: the engine asked for, the one chosen (resolved once, at the
/// first scoring call, and kept until the engine is asked for again), why, and the ONNX Runtime backend when that is
/// the one. Thread-safe: concurrent scoring calls share the backend; switching the engine waits for calls in flight.
/// </summary>
internal sealed class ScoringEngineSlot : IDisposable
{
    /// <summary>The ONNX Runtime route's type in the MLNetDeep.Onnx assembly.</summary>
    internal const string RouteTypeName = "MLNetDeep.Onnx.Engine.OnnxRuntimeScoringRoute, MLNetDeep.Onnx";

    private static readonly Lazy<IOnnxRuntimeScoringRoute?> Route =
        new(() => MLNetInternals.Satellites.Create<IOnnxRuntimeScoringRoute>(RouteTypeName));

    private readonly object _lock = new();
    private readonly DeepTransformer _model;
    private readonly bool _onCpu;
    private readonly Func<int> _intraOpThreads;
    private ScoringEngine _requested;
    private volatile Choice? _choice;
    private volatile bool _disposed;

    /// <summary>The engine in use, why, and its backend (null for LibTorch).</summary>
    internal sealed record Choice(ScoringEngine Engine, string Reason, IScoringBackend? Backend);

    /// <param name="model">The model scored.</param>
    /// <param name="onCpu">False when the model's network is on a CUDA device (Auto then keeps LibTorch).</param>
    /// <param name="requested">The engine asked for (saved with the model).</param>
    /// <param name="intraOpThreads">The thread count an ONNX Runtime session is made with, read when it is made.</param>
    public ScoringEngineSlot(DeepTransformer model, bool onCpu, ScoringEngine requested, Func<int> intraOpThreads)
    {
        _model = model;
        _onCpu = onCpu;
        _requested = Check(requested);
        _intraOpThreads = intraOpThreads;
    }

    /// <summary>Where the choice is logged (once per choice), e.g. the trainer's MLContext. Null: not logged.</summary>
    public IHostEnvironment? Log { get; set; }

    /// <summary>The engine asked for. Setting another drops the current choice; setting OnnxRuntime chooses at once, so an error shows here.</summary>
    public ScoringEngine Requested
    {
        get => _requested;
        set
        {
            Check(value);
            ScoringEngine previous;
            lock (_lock)
            {
                if (_requested == value) return;
                previous = _requested;
                _requested = value;
                Reset();
            }
            if (value != ScoringEngine.OnnxRuntime) return;
            try
            {
                Resolve();
            }
            catch
            {
                lock (_lock) _requested = previous; // a refused setting leaves the model as it was
                throw;
            }
        }
    }

    private static ScoringEngine Check(ScoringEngine engine) => Enum.IsDefined(engine) ? engine
        : throw new ArgumentOutOfRangeException(nameof(DeepTransformer.ScoringEngine), engine,
            $"ScoringEngine must be Auto, LibTorch or OnnxRuntime. Received: ScoringEngine={(int)engine}");

    /// <summary>Drops the current choice (disposing its backend once calls in flight are done); the next call chooses again.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            var old = _choice;
            _choice = null;
            old?.Backend?.Dispose();
        }
    }

    /// <summary>The current choice, made now if there is none. Throws when OnnxRuntime was asked for and can't run the model.</summary>
    public Choice Resolve()
    {
        if (_choice is { } made) return made;
        Choice choice;
        lock (_lock)
        {
            if (_choice is { } other) return other;
            _model.ThrowIfDisposed();
            if (_disposed) // the model is being disposed (its engine goes first)
                throw new ObjectDisposedException(nameof(DeepTransformer), "This model is being disposed, so it can't score.");
            choice = Choose();
            _choice = choice;
        }
        if (Log is { } env)
        {
            using var channel = env.Start("MLNetDeep");
            channel.Info(MessageSensitivity.None, $"MLNetDeep scoring engine: {choice.Reason}");
        }
        return choice;
    }

    /// <summary>
    /// Scores with the chosen backend; false when the choice is LibTorch (or the model is disposed), which the caller then
    /// runs itself. A backend disposed by a switch in the middle is replaced by the new choice.
    /// </summary>
    public bool TryScore(ReadOnlySpan<float> values, ReadOnlySpan<int> rowLengths, Span<float> outputs)
    {
        while (!_disposed)
        {
            var backend = Resolve().Backend;
            if (backend is null) return false;
            if (backend.TryScore(values, rowLengths, outputs)) return true;
        }
        return false;
    }

    private Choice Choose()
    {
        if (_requested == ScoringEngine.LibTorch) return new(ScoringEngine.LibTorch, "LibTorch (ScoringEngine = LibTorch).", null);
        bool auto = _requested == ScoringEngine.Auto;
        var spec = _model.Spec;
        string? why = null;
        Exception? cause = null;
        bool modelCannot = false; // the model itself can't be one graph (NotSupportedException), rather than something missing
        if (auto && !_onCpu) why = "the model is on a CUDA device and MLNetDeep's ONNX Runtime engine runs on the CPU";
        else if (_model.Head.SingleGraphOnnxUnsupported(spec) is string unsupported)
        {
            why = $"this {spec.Kind} model can't be one ONNX graph: {unsupported}";
            modelCannot = true;
        }
        else if (Route.Value is not { } route)
            why = "the MLNetDeep.Onnx package is not part of the application (add it, with Microsoft.ML.OnnxRuntime, to score with ONNX Runtime)";
        else
        {
            try
            {
                var backend = route.Create(_model, Math.Max(1, _intraOpThreads()));
                return new(ScoringEngine.OnnxRuntime, $"ONNX Runtime ({backend.Description}; ScoringEngine = {_requested}).", backend);
            }
            catch (Exception e) when (e is not ObjectDisposedException)
            {
                why = e.Message;
                cause = e;
                modelCannot = e is Onnx.OnnxExportException;
            }
        }
        if (auto) return new(ScoringEngine.LibTorch, $"LibTorch (ScoringEngine = Auto; ONNX Runtime is not used because {why}).", null);
        string message = $"ScoringEngine = OnnxRuntime can't score this model: {why} Set ScoringEngine = Auto (it falls back to LibTorch) or LibTorch.";
        throw modelCannot ? new NotSupportedException(message, cause) : new InvalidOperationException(message, cause);
    }

    /// <summary>Releases the backend; scoring calls after this return false (the model then reports itself disposed).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            var old = _choice;
            _choice = null;
            old?.Backend?.Dispose();
        }
    }
}
