using MLNetDeep.Onnx.Proto;

namespace MLNetDeep.Onnx;

/// <summary>
/// The one graph a pipeline export writes: step graphs (ML.NET's converted steps, MLNetDeep's networks) are appended
/// with every value renamed to a name unique in the whole graph, their inputs bound to the values that hold the columns
/// they read, and the operator-set imports of all of them collected. <see cref="Prune"/> keeps only what the outputs need.
/// </summary>
internal sealed class PipelineGraph
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _domains = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Value, OnnxDataType Type), string> _casts = new();

    public PipelineGraph(int opset)
    {
        Opset = opset;
        _domains[""] = opset;
    }

    /// <summary>The default-domain opset every node is written for.</summary>
    public int Opset { get; }

    public GraphProto Graph { get; } = new();

    /// <summary>Operator sets the graph's nodes use: the default domain at <see cref="Opset"/>, ai.onnx.ml and com.microsoft as the steps declared them.</summary>
    public IEnumerable<OperatorSetIdProto> OpsetImports => _domains.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => new OperatorSetIdProto(d.Key, d.Value));

    /// <summary>A value name not used yet, derived from <paramref name="hint"/>.</summary>
    public string Unique(string hint)
    {
        var name = hint.Length == 0 ? "value" : hint;
        for (int i = 1; !_names.Add(name); i++) name = $"{hint}_{i}";
        return name;
    }

    /// <summary>Reserves an exact name (a graph input or output) so no step value takes it.</summary>
    public void Reserve(string name) => _names.Add(name);

    /// <summary>Adds a default-domain node with one output; returns the output's name.</summary>
    public string Node(string op, string[] inputs, string hint, params AttributeProto[] attributes)
    {
        var output = Unique(hint);
        var node = new NodeProto { OpType = op, Name = $"pipeline/{op}_{output}" };
        node.Inputs.AddRange(inputs);
        node.Outputs.Add(output);
        node.Attributes.AddRange(attributes);
        Graph.Nodes.Add(node);
        return output;
    }

    /// <summary>An int64 initializer.</summary>
    public string Int64Constant(string hint, long[] values, params long[] dims)
    {
        var name = Unique(hint);
        Graph.Initializers.Add(TensorProto.FromInt64s(name, values, dims));
        return name;
    }

    /// <summary><paramref name="value"/> as <paramref name="to"/> (one Cast per value and type).</summary>
    public string Cast(string value, OnnxDataType from, OnnxDataType to)
    {
        if (from == to) return value;
        if ((from == OnnxDataType.String) != (to == OnnxDataType.String))
            throw new InvalidOperationException($"The pipeline graph would cast '{value}' from {from} to {to}; text and numbers don't convert.");
        if (_casts.TryGetValue((value, to), out var existing)) return existing;
        return _casts[(value, to)] = Node("Cast", new[] { value }, $"{value}_{to.ToString().ToLowerInvariant()}", OnnxGraphBuilder.Int("to", (long)to));
    }

    /// <summary>
    /// Moves <paramref name="step"/>'s initializers and nodes into this graph under fresh names (the step graph is consumed). <paramref name="bind"/> gives the
    /// merged value for each of the step graph's inputs that a node reads (called once per input). Returns, for each
    /// of the step graph's outputs, the merged value that holds it.
    /// </summary>
    public Dictionary<string, string> Append(GraphProto step, Func<ValueInfoProto, string> bind, string label, IEnumerable<OperatorSetIdProto> opsets)
    {
        var declared = opsets.ToDictionary(o => o.Domain, o => o.Version, StringComparer.Ordinal);
        var inputs = step.Inputs.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var renamed = new Dictionary<string, string>(StringComparer.Ordinal);
        string Resolve(string name)
        {
            if (name.Length == 0) return name; // an omitted optional input
            if (renamed.TryGetValue(name, out var merged)) return merged;
            if (inputs.TryGetValue(name, out var input)) return renamed[name] = bind(input);
            throw new InvalidOperationException($"{label}: its graph reads value '{name}', which is neither an input, an initializer nor a node output.");
        }

        foreach (var init in step.Initializers)
        {
            init.Name = renamed[init.Name] = Unique(init.Name);
            Graph.Initializers.Add(init);
        }
        foreach (var node in step.Nodes)
        {
            if (node.Attributes.Any(a => a.Type is OnnxAttributeType.Graph or OnnxAttributeType.Graphs))
                throw new InvalidOperationException($"{label}: node {node.OpType} '{node.Name}' has a subgraph (control flow), which the pipeline export can't rename.");
            node.Name = $"{label}/{(node.Name.Length > 0 ? node.Name : node.OpType)}";
            var mapped = node.Inputs.Select(Resolve).ToList();
            node.Inputs.Clear();
            node.Inputs.AddRange(mapped);
            for (int i = 0; i < node.Outputs.Count; i++)
            {
                var original = node.Outputs[i];
                if (original.Length == 0) continue;
                var fresh = Unique(original);
                renamed[original] = fresh;
                node.Outputs[i] = fresh;
            }
            Graph.Nodes.Add(node);
            var domain = node.Domain == "ai.onnx" ? "" : node.Domain;
            if (domain.Length > 0)
            {
                long version = declared.TryGetValue(domain, out var v) ? v : 1; // ML.NET's converter omits com.microsoft's import
                _domains[domain] = Math.Max(_domains.GetValueOrDefault(domain), version);
            }
        }
        return step.Outputs.ToDictionary(o => o.Name, o => Resolve(o.Name), StringComparer.Ordinal);
    }

    /// <summary>Removes every node, initializer and input that none of <paramref name="outputs"/> depends on.</summary>
    public void Prune(IEnumerable<string> outputs)
    {
        var needed = GraphPruning.Prune(Graph, outputs);
        Graph.Inputs.RemoveAll(v => !needed.Contains(v.Name));
        var usedDomains = Graph.Nodes.Select(n => n.Domain == "ai.onnx" ? "" : n.Domain).ToHashSet(StringComparer.Ordinal);
        foreach (var d in _domains.Keys.Where(d => d.Length > 0 && !usedDomains.Contains(d)).ToList()) _domains.Remove(d);
    }

    /// <summary>
    /// Declares the type of outputs that onnx's shape inference can't work out, so its full check (strict since the opset-16
    /// Identity) passes: com.microsoft's Tokenizer (ML.NET's TokenizeIntoWords / TokenizeIntoCharactersAsKeys) turns
    /// ML.NET's [rows, 1] text into [rows, 1, tokens] strings; ai.onnx.ml's Scaler (the normalizers), Normalizer,
    /// FeatureVectorizer and OneHotEncoder write float [rows, values] and have no type inference in onnx 1.12.
    /// Without it onnx 1.12's full check rejects the graph, or crashes on a LabelEncoder after an unranked Squeeze.
    /// </summary>
    public void DeclareUninferredTypes()
    {
        foreach (var node in Graph.Nodes)
        {
            var (type, rank) = (node.Domain, node.OpType) switch
            {
                ("com.microsoft", "Tokenizer") => (OnnxDataType.String, 3),
                ("ai.onnx.ml", "Scaler" or "Normalizer" or "FeatureVectorizer" or "OneHotEncoder") => (OnnxDataType.Float, 2),
                _ => (OnnxDataType.Undefined, 0),
            };
            if (type == OnnxDataType.Undefined) continue;
            Graph.ValueInfo.Add(new ValueInfoProto
            {
                Name = node.Outputs[0],
                ElemType = type,
                Shape = Enumerable.Repeat(ValueInfoProto.UnknownDim, rank).ToList(),
            });
        }
    }
}
