namespace MLNetDeep.Inference;

/// <summary>
/// What runs a trained model's forward pass when it scores (<c>Transform</c>, <c>PredictionEngine</c>): LibTorch, which
/// trained it, or ONNX Runtime on the model's exported graph. Both give the same outputs (within 1e-5) and the same errors
/// for bad input, which are checked before either engine runs. Set on <see cref="Scoring.DeepTransformer.ScoringEngine"/>;
/// saved with the model.
/// </summary>
public enum ScoringEngine
{
    /// <summary>
    /// ONNX Runtime when it can run the model (the MLNetDeep.Onnx package and the native ONNX Runtime are in the application,
    /// the model is on the CPU and its graph exports), otherwise LibTorch. The choice and, for LibTorch, the reason are
    /// in <see cref="Scoring.DeepTransformer.ScoringEngineReason"/>. Default.
    /// </summary>
    Auto,
    /// <summary>LibTorch (TorchSharp), on the model's device.</summary>
    LibTorch,
    /// <summary>
    /// ONNX Runtime on the CPU, from the model's exported graph; fails with a clear error when it can't run the model
    /// (which package is missing, or why the model doesn't export).
    /// </summary>
    OnnxRuntime,
}
