using MLNetDeep.Onnx.Proto;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Onnx;

/// <summary>
/// Collects the nodes and initializers of one ONNX graph with unique value names. Architecture
/// exporters (<see cref="OnnxNetworkExporter"/>) emit their layers through it.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);

    public OnnxGraphBuilder(int opset) => Opset = opset;

    /// <summary>The opset the graph is written for (exporters choose operators by it).</summary>
    public int Opset { get; }

    /// <summary>The graph being built.</summary>
    public GraphProto Graph { get; } = new();

    /// <summary>A value name not used yet, derived from <paramref name="hint"/>.</summary>
    public string Unique(string hint)
    {
        var name = hint;
        for (int i = 1; !_names.Add(name); i++) name = $"{hint}_{i}";
        return name;
    }

    /// <summary>Reserves an exact name (graph inputs and outputs); throws if it is taken.</summary>
    public string Reserve(string name)
    {
        if (!_names.Add(name)) throw new InvalidOperationException($"The ONNX value name '{name}' is used twice.");
        return name;
    }

    /// <summary>Adds a float initializer copied from a TorchSharp tensor (any shape; float32 on the CPU).</summary>
    public string Initializer(string hint, Tensor value)
    {
        using var cpu = value.detach().to(ScalarType.Float32).cpu().contiguous();
        var data = cpu.data<float>().ToArray();
        return Initializer(hint, data, cpu.shape);
    }

    /// <summary>Adds a float initializer.</summary>
    public string Initializer(string hint, float[] values, params long[] dims)
    {
        var name = Unique(hint);
        Graph.Initializers.Add(TensorProto.FromFloats(name, values, dims));
        return name;
    }

    /// <summary>An int64 constant (shared between uses of the same values).</summary>
    public string Int64Constant(string hint, long[] values, params long[] dims)
    {
        var key = $"i64[{string.Join(",", dims)}]:{string.Join(",", values)}";
        if (_constants.TryGetValue(key, out var existing)) return existing;
        var name = Unique(hint);
        Graph.Initializers.Add(TensorProto.FromInt64s(name, values, dims));
        _constants[key] = name;
        return name;
    }

    /// <summary>A scalar float constant (shared between uses of the same value).</summary>
    public string FloatConstant(string hint, float value)
    {
        var key = $"f32:{BitConverter.SingleToInt32Bits(value)}";
        if (_constants.TryGetValue(key, out var existing)) return existing;
        var name = Unique(hint);
        Graph.Initializers.Add(TensorProto.FromFloats(name, new[] { value }));
        _constants[key] = name;
        return name;
    }

    /// <summary>A string constant tensor.</summary>
    public string StringConstant(string hint, IReadOnlyList<string> values, params long[] dims)
    {
        var name = Unique(hint);
        Graph.Initializers.Add(TensorProto.FromStrings(name, values, dims));
        return name;
    }

    /// <summary>Adds a node with one output named after <paramref name="outputHint"/>; returns the output's name.</summary>
    public string Node(string opType, string[] inputs, string outputHint, params AttributeProto[] attributes)
        => Node(opType, inputs, new[] { Unique(outputHint) }, attributes)[0];

    /// <summary>Adds a node whose outputs are already named (see <see cref="Unique"/> / <see cref="Reserve"/>).</summary>
    public string[] Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = Unique($"{opType}_{outputs[0]}") };
        node.Inputs.AddRange(inputs);
        node.Outputs.AddRange(outputs);
        node.Attributes.AddRange(attributes);
        Graph.Nodes.Add(node);
        return outputs;
    }

    /// <summary>An int attribute.</summary>
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = OnnxAttributeType.Int, I = value };
    /// <summary>A float attribute.</summary>
    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = OnnxAttributeType.Float, F = value };
    /// <summary>A string attribute.</summary>
    public static AttributeProto String(string name, string value) => new() { Name = name, Type = OnnxAttributeType.String, S = value };
    /// <summary>An ints attribute.</summary>
    public static AttributeProto Ints(string name, params long[] values) => new() { Name = name, Type = OnnxAttributeType.Ints, Ints = values.ToList() };
    /// <summary>A floats attribute.</summary>
    public static AttributeProto Floats(string name, params float[] values) => new() { Name = name, Type = OnnxAttributeType.Floats, Floats = values.ToList() };
    /// <summary>A strings attribute.</summary>
    public static AttributeProto Strings(string name, params string[] values) => new() { Name = name, Type = OnnxAttributeType.Strings, Strings = values.ToList() };
}
