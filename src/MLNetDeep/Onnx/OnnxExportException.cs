namespace MLNetDeep.Onnx;

/// <summary>A model (or one of its layers) can't be written as ONNX; the message names the layer and why.</summary>
public sealed class OnnxExportException : Exception
{
    /// <summary>Creates the exception for a layer.</summary>
    public OnnxExportException(string layer, string reason)
        : base($"Cannot export {layer} to ONNX: {reason}") => Layer = layer;

    /// <summary>The layer that could not be exported, e.g. "Layers[2] (ResidualBlock)".</summary>
    public string Layer { get; }
}
