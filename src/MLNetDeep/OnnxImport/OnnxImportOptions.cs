namespace MLNetDeep.OnnxImport;

/// <summary>
/// How <see cref="OnnxNetwork.Load(string, OnnxImportOptions?)"/> builds a network from an ONNX graph: which value
/// is the network's output (cut a classifier off to get a backbone) and which is its input.
/// </summary>
public sealed class OnnxImportOptions
{
    /// <summary>
    /// The value the network returns: a graph output or any intermediate value (e.g. the tensor before the classifier);
    /// the nodes it does not need are dropped. Null (default): the graph's first output.
    /// </summary>
    public string? OutputName { get; set; }

    /// <summary>
    /// Several outputs for <see cref="OnnxNetwork.ForwardAll"/> (graph outputs or intermediate values), in the order
    /// returned; <see cref="OnnxNetwork.forward"/> returns the first. Null (default): <see cref="OutputName"/> alone.
    /// Setting both is an error.
    /// </summary>
    public IReadOnlyList<string>? OutputNames { get; set; }

    /// <summary>
    /// The value the network takes: one of the graph's inputs when it has several, or an intermediate value (the nodes
    /// before it are dropped). Null (default): every graph input the outputs need (forward needs exactly one).
    /// </summary>
    public string? InputName { get; set; }

    /// <summary>
    /// Merge blocks that hold no convolution, Gemm, MatMul or recurrent layer into a neighbour (a lone ReLU or pooling joins the layer
    /// before it). Default true; false gives one block per cut point.
    /// </summary>
    public bool MergeSmallBlocks { get; set; } = true;

    internal OnnxImportOptions Clone() => new()
    {
        OutputName = OutputName,
        OutputNames = OutputNames?.ToList(),
        InputName = InputName,
        MergeSmallBlocks = MergeSmallBlocks,
    };
}
