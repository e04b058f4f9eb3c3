using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport.Graph;
using static TorchSharp.torch;

namespace MLNetDeep.OnnxImport.Ops;

/// <summary>What a node's computation sees when it runs: train or eval mode, and the batch sizes for dynamic-batch fixes.</summary>
internal sealed class OpContext
{
    /// <summary>Train mode (batch norm uses batch statistics, dropout drops).</summary>
    public bool Training { get; init; }

    /// <summary>The batch size the file declares for the network input (dim 0), when it is a fixed number.</summary>
    public long? DeclaredBatch { get; init; }

    /// <summary>The batch size of this run (dim 0 of the network input).</summary>
    public long RuntimeBatch { get; init; }

    /// <summary>Import time (constant folding): eval mode, no batch.</summary>
    public static readonly OpContext Folding = new() { Training = false, RuntimeBatch = -1 };
}

/// <summary>
/// One node's computation: runtime inputs in the node's input order (null for an omitted optional input, and for an
/// input the node took as a constant at import) → its outputs (as many as the node uses; a view or the input itself
/// is fine, the engine aliases it).
/// </summary>
internal delegate Tensor[] OpRun(OpContext context, Tensor?[] inputs);

/// <summary>Where a node input's values are taken from by the op, which decides how an initializer there is imported.</summary>
internal enum InputRole
{
    /// <summary>Tensor data; an initializer here is a trainable parameter when it has more than one element, a fixed constant otherwise.</summary>
    Data,
    /// <summary>A layer's weight or bias: an initializer here is always a trainable parameter.</summary>
    Weight,
    /// <summary>Running statistics (batch-norm mean and variance): an initializer here is a buffer, saved but not trained.</summary>
    Statistic,
    /// <summary>Shape-like values (shapes, axes, pads, sizes, clip bounds): read at import when constant, otherwise at run time.</summary>
    Static,
}

/// <summary>An operator the importer supports: its input roles per opset and how to build a node's computation.</summary>
internal sealed class OpDefinition
{
    public OpDefinition(string opType, Func<ImportNode, OpRun> build, Func<long, int, InputRole>? roles = null,
        string? notes = null, bool foldable = true)
    {
        OpType = opType;
        Build = build;
        Roles = roles ?? ((_, _) => InputRole.Data);
        Foldable = foldable;
        Notes = notes;
    }

    public string OpType { get; }

    /// <summary>Builds the computation of one node (attributes and constant inputs read here, once).</summary>
    public Func<ImportNode, OpRun> Build { get; }

    /// <summary>The role of input <c>index</c> at opset <c>opset</c>.</summary>
    public Func<long, int, InputRole> Roles { get; }

    /// <summary>False for operators that must run at run time even on constant inputs (dropout).</summary>
    public bool Foldable { get; }

    /// <summary>What the documentation says about the operator's support (attributes, opsets, limits).</summary>
    public string? Notes { get; }
}

/// <summary>A node being imported: its attributes with ONNX defaults, its constant inputs, and errors that name it.</summary>
internal sealed class ImportNode
{
    private readonly Func<int, Tensor?> _constant;
    private readonly Func<int, bool> _outputUsed;

    public ImportNode(NodeProto proto, int index, long opset, Func<int, Tensor?> constant, Func<int, bool> outputUsed)
    {
        Proto = proto;
        Index = index;
        Opset = opset;
        _constant = constant;
        _outputUsed = outputUsed;
    }

    public NodeProto Proto { get; }
    public int Index { get; }
    public long Opset { get; }
    public string OpType => Proto.OpType;

    /// <summary>The node's name, or "#index" when the file leaves it unnamed.</summary>
    public string Label => Proto.Name.Length > 0 ? Proto.Name : $"#{Index}";

    /// <summary>True when input <paramref name="i"/> is given (present and not the empty name of an omitted optional input).</summary>
    public bool HasInput(int i) => i < Proto.Inputs.Count && Proto.Inputs[i].Length > 0;

    /// <summary>Input <paramref name="i"/>'s value when it is known at import (initializer, Constant node, folded), else null.</summary>
    public Tensor? Constant(int i) => HasInput(i) ? _constant(i) : null;

    /// <summary>Input <paramref name="i"/> as longs when it is constant, else null.</summary>
    public long[]? ConstantLongs(int i) => Constant(i) is { } t ? OnnxTensors.Longs(t) : null;

    /// <summary>True when output <paramref name="i"/> is read by a later node or is a network output.</summary>
    public bool OutputUsed(int i) => i < Proto.Outputs.Count && Proto.Outputs[i].Length > 0 && _outputUsed(i);

    /// <summary>Throws when the node's outputs past the first <paramref name="count"/> are used: the importer does not compute them.</summary>
    public void SupportOutputs(int count, string what)
    {
        for (int i = count; i < Proto.Outputs.Count; i++)
            if (OutputUsed(i)) throw Error($"its output {i} ('{Proto.Outputs[i]}', {what}) is used, and the importer does not compute it.");
    }

    private AttributeProto? Find(string name) => Proto.Attributes.FirstOrDefault(a => a.Name == name);

    public bool Has(string name) => Find(name) is not null;

    public long Int(string name, long fallback) => Find(name) is { } a ? Expect(a, OnnxAttributeType.Int).I : fallback;

    public float Float(string name, float fallback) => Find(name) is { } a ? Expect(a, OnnxAttributeType.Float).F : fallback;

    public string String(string name, string fallback) => Find(name) is { } a ? Expect(a, OnnxAttributeType.String).S : fallback;

    public long[]? Ints(string name) => Find(name) is { } a ? Expect(a, OnnxAttributeType.Ints).Ints.ToArray() : null;

    public float[]? Floats(string name) => Find(name) is { } a ? Expect(a, OnnxAttributeType.Floats).Floats.ToArray() : null;

    public AttributeProto? Attribute(string name) => Find(name);

    private AttributeProto Expect(AttributeProto a, OnnxAttributeType type)
    {
        // an INTS attribute with no values may be written without its type by old exporters
        if (a.Type == type || (a.Type == OnnxAttributeType.Undefined && type is OnnxAttributeType.Ints or OnnxAttributeType.Floats)) return a;
        throw Error($"attribute '{a.Name}' is of type {a.Type}, expected {type}.");
    }

    /// <summary>An import error naming this node, its operator and the opset.</summary>
    public OnnxImportException Error(string reason) =>
        new($"Cannot import node '{Label}' ({OpType}, opset {Opset}): {reason}", Label, OpType);

    /// <summary>An error for an attribute value outside what the importer supports.</summary>
    public OnnxImportException Unsupported(string attribute, object value, string supported) =>
        Error($"{attribute} = {Format(value)} is not supported ({supported}).");

    private static string Format(object v) => v is long[] a ? $"[{string.Join(", ", a)}]" : v.ToString() ?? "null";

    /// <summary>A run-time failure inside this node (LibTorch's message kept as the inner exception).</summary>
    public OnnxImportException RuntimeError(Exception inner, Tensor?[] inputs) =>
        new($"Node '{Label}' ({OpType}) failed on inputs of shapes {string.Join(", ", inputs.Select(t => t is null ? "-" : $"[{string.Join(", ", t.shape)}]"))}: {FirstLine(inner.Message)}",
            Label, OpType, inner);

    private static string FirstLine(string s)
    {
        int n = s.IndexOf('\n');
        return n < 0 ? s : s[..n];
    }
}

/// <summary>Shared helpers of the operator implementations.</summary>
internal static class OpHelpers
{
    /// <summary>A negative axis counted from the end, checked against <paramref name="rank"/>.</summary>
    public static long Axis(long axis, long rank, ImportNode? node = null)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.Max(rank, 1))
            throw (node?.Error($"axis {axis} is outside a tensor of rank {rank}.") ?? new OnnxImportException($"axis {axis} is outside a tensor of rank {rank}."));
        return a;
    }

    /// <summary>Values taken at import (<paramref name="captured"/>) or read from the run-time tensor.</summary>
    public static long[]? LongsOf(long[]? captured, Tensor? runtime) => captured ?? (runtime is null ? null : OnnxTensors.Longs(runtime));

    /// <summary>One output.</summary>
    public static Tensor[] One(Tensor t) => new[] { t };

    /// <summary>The product of <paramref name="dims"/> from <paramref name="start"/> (inclusive) to <paramref name="end"/> (exclusive).</summary>
    public static long Product(long[] dims, int start, int end)
    {
        long p = 1;
        for (int i = start; i < end; i++) p *= dims[i];
        return p;
    }
}
