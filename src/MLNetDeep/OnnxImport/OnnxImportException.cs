namespace MLNetDeep.OnnxImport;

/// <summary>
/// An ONNX model can't be imported as it is: an operator or attribute the importer does not support, a name in
/// <see cref="OnnxImportOptions"/> the graph does not have, a graph that is not well formed, or a file that is not
/// ONNX. The message names the node, its operator and opset where one is at fault, and says what to do.
/// </summary>
public sealed class OnnxImportException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OnnxImportException(string message, string? nodeName = null, string? opType = null, Exception? inner = null)
        : base(message, inner)
    {
        NodeName = nodeName;
        OpType = opType;
    }

    /// <summary>The node at fault (its name, or "#index" for an unnamed node), when one is.</summary>
    public string? NodeName { get; }

    /// <summary>The operator of the node at fault, when one is.</summary>
    public string? OpType { get; }
}
