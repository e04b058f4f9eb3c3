using MLNetDeep.Onnx.Proto;
using MLNetDeep.Tasks;
using static MLNetDeep.Onnx.OnnxGraphBuilder;

namespace MLNetDeep.Onnx;

/// <summary>
/// What a task head needs to write its part of an exported graph: the builder, the spec, the network's raw output and
/// the graph form, with helpers for the output names and shapes every head uses. The nodes themselves are the task's
/// (<see cref="TaskHead.EmitOnnx"/>), so a task's semantics live in one place.
/// </summary>
internal sealed class OnnxHeadWriter
{
    public OnnxHeadWriter(OnnxGraphBuilder graph, HeadSpec spec, string raw, OnnxGraphForm form, long? maxSteps)
    {
        G = graph;
        Spec = spec;
        Raw = raw;
        Form = form;
        MaxSteps = maxSteps;
    }

    public OnnxGraphBuilder G { get; }
    public HeadSpec Spec { get; }
    /// <summary>The network's raw output: [N, outputs] (per step: [N, T, outputs]).</summary>
    public string Raw { get; }
    public OnnxGraphForm Form { get; }
    /// <summary>Padded tagging graph: the most steps a row can keep.</summary>
    public long? MaxSteps { get; }

    /// <summary>True for the dynamic-batch graph ([N, ...]); false for the single-row graphs inside saved ML.NET models.</summary>
    public bool Batch => Form == OnnxGraphForm.Batch;
    /// <summary>The batch dimension: "N", or 1 in single-row graphs.</summary>
    public object N => Batch ? "N" : 1L;
    /// <summary>The shape of a one-value-per-row output.</summary>
    public List<object> RowShape => new() { N };

    /// <summary>
    /// The graph name of an output: the plain name in the batch graph; in single-row graphs per-row scalars become
    /// one-element tensors named with <see cref="OnnxExporter.SingleRowScalarPrefix"/> (ML.NET 5.0.1's OnnxTransformer can't
    /// read rank-0 outputs), unless the column is a known-size vector per row.
    /// </summary>
    public string Name(OutputColumn column, bool vectorPerRow = false) =>
        Batch || vectorPerRow ? OnnxNames.Of(column) : OnnxExporter.SingleRowScalarPrefix + OnnxNames.Of(column);

    /// <summary>Reshapes a value to one per row ([N]) under <paramref name="output"/>.</summary>
    public string ToRow(string value, string output) =>
        G.Node("Reshape", new[] { value, G.Int64Constant("shape_rows", new long[] { -1 }, 1) }, new[] { output })[0];

    /// <summary>Declares a graph output.</summary>
    public void Output(string name, OnnxDataType type, List<object> shape, string doc) =>
        G.Graph.Outputs.Add(new ValueInfoProto { Name = name, ElemType = type, Shape = shape, DocString = doc });
}
