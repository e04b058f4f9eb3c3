using MLNetDeep.Scoring;

namespace MLNetDeep.Inference;

/// <summary>
/// A scoring engine other than the model's own LibTorch forward pass. It scores what <see cref="DeepTransformer"/>'s
/// batched scoring path gives it — rows already checked, laid end to end — and writes the same postprocessed outputs.
/// Safe to call from several threads at once.
/// </summary>
internal interface IScoringBackend : IDisposable
{
    /// <summary>
    /// Scores the rows laid end to end in <paramref name="values"/> (<paramref name="rowLengths"/> values each) into
    /// <paramref name="outputs"/> (<see cref="DeepTransformer.RowOutputSize"/> values per row, end to end). False, with
    /// nothing written, when the backend was disposed meanwhile (the engine was switched): the caller asks again.
    /// </summary>
    bool TryScore(ReadOnlySpan<float> values, ReadOnlySpan<int> rowLengths, Span<float> outputs);

    /// <summary>What runs, for <see cref="DeepTransformer.ScoringEngineReason"/> and the log (e.g. the thread count).</summary>
    string Description { get; }
}

/// <summary>
/// Builds the ONNX Runtime backend. Implemented by the MLNetDeep.Onnx package (which references ONNX Runtime; this library
/// does not) and found by name, as <see cref="Onnx.MLNetModelSave"/> finds its save route.
/// </summary>
internal interface IOnnxRuntimeScoringRoute
{
    /// <summary>
    /// An ONNX Runtime backend for <paramref name="model"/> with <paramref name="intraOpThreads"/> intra-op threads. Throws
    /// when it can't run the model (the native library is missing, the model doesn't export, ONNX Runtime refuses the graph);
    /// the message says why.
    /// </summary>
    IScoringBackend Create(DeepTransformer model, int intraOpThreads);
}
