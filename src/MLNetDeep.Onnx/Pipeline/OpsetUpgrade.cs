using MLNetDeep.Onnx.Proto;
using static MLNetDeep.Onnx.OnnxGraphBuilder;

namespace MLNetDeep.Onnx;

/// <summary>
/// Rewrites a graph written for an older default-domain opset (ML.NET's converter writes 9–12) so it means the same under
/// a newer one (17–23), for the operators whose signature or meaning changed in between:
/// Squeeze, Unsqueeze, ReduceSum and Split (13: axes / split move from attributes to inputs), the other reductions
/// (18: axes become an input), Split without sizes (18: num_outputs is required), and Softmax, LogSoftmax, Hardmax
/// (13: they act on one axis instead of flattening the trailing axes; the old meaning is kept with Flatten and Reshape).
/// Every other operator ML.NET writes (Cast, Identity, Reshape, Concat, Slice, Gather, arithmetic, ArgMax, Where, ...)
/// only gained types between these opsets.
/// </summary>
internal static class OpsetUpgrade
{
    private static readonly HashSet<string> ReductionsFrom18 = new(StringComparer.Ordinal)
    {
        "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    };

    private static readonly HashSet<string> SoftmaxFamily = new(StringComparer.Ordinal) { "Softmax", "LogSoftmax", "Hardmax" };

    /// <summary>Rewrites <paramref name="graph"/>'s default-domain nodes from <paramref name="from"/> to <paramref name="to"/> in place.</summary>
    public static void Apply(GraphProto graph, long from, int to)
    {
        if (from >= to) return;
        var names = new HashSet<string>(graph.Nodes.SelectMany(n => n.Outputs).Concat(graph.Initializers.Select(i => i.Name))
            .Concat(graph.Inputs.Select(i => i.Name)), StringComparer.Ordinal);
        string Fresh(string hint)
        {
            var name = hint;
            for (int i = 1; !names.Add(name); i++) name = $"{hint}_{i}";
            return name;
        }
        string Axes(string hint, List<long> values)
        {
            var name = Fresh(hint);
            graph.Initializers.Add(TensorProto.FromInt64s(name, values.ToArray(), values.Count));
            return name;
        }

        var rewritten = new List<NodeProto>();
        foreach (var node in graph.Nodes)
        {
            if (node.Domain is not ("" or "ai.onnx")) { rewritten.Add(node); continue; }
            string op = node.OpType;
            if (from < 13 && to >= 13 && op is "Squeeze" or "Unsqueeze" or "ReduceSum")
                MoveToInput(node, "axes", 1, Axes);
            else if (from < 18 && to >= 18 && ReductionsFrom18.Contains(op))
                MoveToInput(node, "axes", 1, Axes);
            else if (op == "Split")
            {
                if (from < 13 && to >= 13) MoveToInput(node, "split", 1, Axes);
                if (from < 18 && to >= 18 && node.Inputs.Count < 2 && node.Attributes.All(a => a.Name != "num_outputs"))
                    node.Attributes.Add(Int("num_outputs", node.Outputs.Count));
            }
            else if (from < 13 && to >= 13 && SoftmaxFamily.Contains(op))
            {
                rewritten.AddRange(OldSoftmax(node, Fresh));
                continue;
            }
            rewritten.Add(node);
        }
        graph.Nodes.Clear();
        graph.Nodes.AddRange(rewritten);
    }

    /// <summary>An ints attribute becomes the node's input at <paramref name="position"/> (an int64 initializer).</summary>
    private static void MoveToInput(NodeProto node, string attribute, int position, Func<string, List<long>, string> constant)
    {
        var a = node.Attributes.FirstOrDefault(x => x.Name == attribute);
        if (a is null) return;
        node.Attributes.Remove(a);
        while (node.Inputs.Count < position) node.Inputs.Add("");
        node.Inputs.Insert(position, constant($"{node.OpType}_{attribute}", a.Ints));
    }

    /// <summary>Opset &lt; 13 softmax: flatten to 2-D at axis (default 1), normalise each row, restore the shape.</summary>
    private static IEnumerable<NodeProto> OldSoftmax(NodeProto node, Func<string, string> fresh)
    {
        long axis = node.Attributes.FirstOrDefault(a => a.Name == "axis")?.I ?? 1;
        string x = node.Inputs[0], y = node.Outputs[0];
        string shape = fresh($"{y}_shape"), flat = fresh($"{y}_flat"), normalised = fresh($"{y}_2d");
        NodeProto Make(string op, string[] inputs, string output, params AttributeProto[] attrs)
        {
            var n = new NodeProto { OpType = op, Name = $"{node.Name}_{op}" };
            n.Inputs.AddRange(inputs);
            n.Outputs.Add(output);
            n.Attributes.AddRange(attrs);
            return n;
        }
        yield return Make("Shape", new[] { x }, shape);
        yield return Make("Flatten", new[] { x }, flat, Int("axis", axis));
        yield return Make(node.OpType, new[] { flat }, normalised, Int("axis", 1));
        yield return Make("Reshape", new[] { normalised, shape }, y);
    }
}
