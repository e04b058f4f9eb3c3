using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport;

namespace MLNetDeep.Models.Backbones;

/// <summary>
/// The ONNX graph of a backbone as a model file keeps it: cut to the nodes between the chosen input and output, with
/// the values of every tensor the network's state holds (weights, batch-norm statistics) left out — those live in the
/// model's weights — so the description stays a few kilobytes and loading needs no original file.
/// </summary>
internal static class BackboneGraph
{
    /// <summary>
    /// A copy of <paramref name="model"/> with only the nodes and initializers <paramref name="output"/> needs (from
    /// <paramref name="input"/>, or from the graph inputs), and exactly that output (and input) declared.
    /// </summary>
    public static ModelProto Cut(ModelProto model, string? input, string? output)
    {
        var graph = model.Graph;
        output ??= graph.Outputs.FirstOrDefault()?.Name
                   ?? throw new OnnxImportException("The backbone's graph declares no outputs; set the output name (the value before its classifier).");
        var producer = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in graph.Nodes)
            foreach (var o in n.Outputs.Where(o => o.Length > 0)) producer.TryAdd(o, n);
        var initializers = graph.Initializers.GroupBy(t => t.Name).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var neededNodes = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var neededValues = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        stack.Push(output);
        while (stack.Count > 0)
        {
            var v = stack.Pop();
            if (!neededValues.Add(v) || v == input) continue;
            if (producer.TryGetValue(v, out var node) && neededNodes.Add(node))
                foreach (var i in node.Inputs.Where(i => i.Length > 0)) stack.Push(i);
        }
        var cut = new GraphProto { Name = graph.Name, DocString = graph.DocString };
        cut.Nodes.AddRange(graph.Nodes.Where(neededNodes.Contains));
        cut.Initializers.AddRange(initializers.Values.Where(t => neededValues.Contains(t.Name) && t.Name != input));
        if (input is not null && !graph.Inputs.Any(i => i.Name == input))
            cut.Inputs.Add(graph.ValueInfo.FirstOrDefault(v => v.Name == input) ?? new ValueInfoProto { Name = input, ElemType = OnnxDataType.Float, HasShape = false });
        cut.Inputs.AddRange(graph.Inputs.Where(i => neededValues.Contains(i.Name) && !initializers.ContainsKey(i.Name) && (input is null || i.Name == input)));
        cut.Outputs.Add(graph.Outputs.FirstOrDefault(o => o.Name == output)
                        ?? graph.ValueInfo.FirstOrDefault(v => v.Name == output) ?? new ValueInfoProto { Name = output, ElemType = OnnxDataType.Float, HasShape = false });
        cut.ValueInfo.AddRange(graph.ValueInfo.Where(v => neededValues.Contains(v.Name) && v.Name != output && v.Name != input));
        var copy = new ModelProto
        {
            IrVersion = model.IrVersion, ProducerName = model.ProducerName, ProducerVersion = model.ProducerVersion,
            Domain = model.Domain, ModelVersion = model.ModelVersion, DocString = model.DocString, Graph = cut,
        };
        copy.OpsetImport.AddRange(model.OpsetImport);
        copy.MetadataProps.AddRange(model.MetadataProps);
        return copy;
    }

    /// <summary>The ONNX names of the initializers the imported network keeps in its state (parameters and persistent buffers).</summary>
    public static HashSet<string> StateInitializers(OnnxNetwork network)
    {
        var state = network.state_dict().Keys.ToHashSet(StringComparer.Ordinal);
        return network.ParameterNames.Where(kv => state.Contains(kv.Value)).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// The serialised graph with the values of <paramref name="stateInitializers"/> removed (names, types and shapes
    /// kept). Only values the network's state replaces are removed: constants the graph computes with stay.
    /// </summary>
    public static byte[] Skeleton(ModelProto model, IReadOnlySet<string> stateInitializers)
    {
        var stripped = new List<TensorProto>();
        foreach (var t in model.Graph.Initializers)
        {
            if (!stateInitializers.Contains(t.Name)) { stripped.Add(t); continue; }
            stripped.Add(new TensorProto { Name = t.Name, DataType = t.DataType, Dims = t.Dims.ToList(), DocString = t.DocString });
        }
        var original = model.Graph.Initializers;
        model.Graph.Initializers = stripped;
        try { return ProtoWriter.Serialize(model); }
        finally { model.Graph.Initializers = original; }
    }

    /// <summary>Reads a skeleton and gives every value-less initializer zeros of its shape (the model's weights overwrite them).</summary>
    public static ModelProto Filled(byte[] skeleton)
    {
        var model = ModelProto.Parse(skeleton);
        foreach (var t in model.Graph.Initializers)
        {
            bool empty = (t.RawData is null || t.RawData.Length == 0) && t.FloatData.Count == 0 && t.Int32Data.Count == 0 &&
                         t.Int64Data.Count == 0 && t.DoubleData.Count == 0 && t.UInt64Data.Count == 0 && t.StringData is null && !t.IsExternal;
            if (empty && t.ElementCount > 0) t.RawData = new byte[checked(t.ElementCount * TensorProto.ElementSize(t.DataType))];
        }
        return model;
    }
}
