using System.Runtime.InteropServices;
using System.Text;

namespace MLNetDeep.Onnx.Proto;

// The subset of the ONNX protobuf schema (onnx.proto, IR version 8+) that MLNetDeep writes.
// Field numbers are those of the ONNX specification; every class documents its message.

/// <summary>ONNX tensor element types (TensorProto.DataType).</summary>
internal enum OnnxDataType
{
    Float = 1,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
}

/// <summary>AttributeProto.AttributeType.</summary>
internal enum OnnxAttributeType
{
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Floats = 6,
    Ints = 7,
    Strings = 8,
}

/// <summary>ModelProto: ir_version 1, producer_name 2, producer_version 3, domain 4, model_version 5, doc_string 6, graph 7, opset_import 8, metadata_props 14.</summary>
internal sealed class ModelProto : IProtoMessage
{
    public long IrVersion;
    public List<OperatorSetIdProto> OpsetImport = new();
    public string ProducerName = "";
    public string ProducerVersion = "";
    public string Domain = "";
    public long ModelVersion;
    public string DocString = "";
    public GraphProto Graph = new();
    public List<(string Key, string Value)> MetadataProps = new();

    public void WriteTo(ProtoWriter w)
    {
        w.Int64(1, IrVersion);
        w.StringIfAny(2, ProducerName);
        w.StringIfAny(3, ProducerVersion);
        w.StringIfAny(4, Domain);
        w.Int64IfNonZero(5, ModelVersion);
        w.StringIfAny(6, DocString);
        w.Message(7, Graph);
        foreach (var op in OpsetImport) w.Message(8, op);
        foreach (var (k, v) in MetadataProps) w.Message(14, new StringStringEntryProto(k, v));
    }
}

/// <summary>OperatorSetIdProto: domain 1, version 2.</summary>
internal sealed record OperatorSetIdProto(string Domain, long Version) : IProtoMessage
{
    public void WriteTo(ProtoWriter w)
    {
        w.StringIfAny(1, Domain);
        w.Int64(2, Version);
    }
}

/// <summary>StringStringEntryProto: key 1, value 2.</summary>
internal sealed record StringStringEntryProto(string Key, string Value) : IProtoMessage
{
    public void WriteTo(ProtoWriter w)
    {
        w.String(1, Key);
        w.String(2, Value);
    }
}

/// <summary>GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12, value_info 13.</summary>
internal sealed class GraphProto : IProtoMessage
{
    public List<NodeProto> Nodes = new();
    public string Name = "";
    public List<TensorProto> Initializers = new();
    public string DocString = "";
    public List<ValueInfoProto> Inputs = new();
    public List<ValueInfoProto> Outputs = new();

    public void WriteTo(ProtoWriter w)
    {
        foreach (var n in Nodes) w.Message(1, n);
        w.StringIfAny(2, Name);
        foreach (var t in Initializers) w.Message(5, t);
        w.StringIfAny(10, DocString);
        foreach (var i in Inputs) w.Message(11, i);
        foreach (var o in Outputs) w.Message(12, o);
    }
}

/// <summary>NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, doc_string 6, domain 7.</summary>
internal sealed class NodeProto : IProtoMessage
{
    public List<string> Inputs = new();
    public List<string> Outputs = new();
    public string Name = "";
    public string OpType = "";
    public List<AttributeProto> Attributes = new();
    public string DocString = "";
    public string Domain = "";

    public void WriteTo(ProtoWriter w)
    {
        foreach (var i in Inputs) w.String(1, i); // an empty name marks an omitted optional input
        foreach (var o in Outputs) w.String(2, o);
        w.StringIfAny(3, Name);
        w.String(4, OpType);
        foreach (var a in Attributes) w.Message(5, a);
        w.StringIfAny(6, DocString);
        w.StringIfAny(7, Domain);
    }
}

/// <summary>AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, strings 9, type 20.</summary>
internal sealed class AttributeProto : IProtoMessage
{
    public string Name = "";
    public OnnxAttributeType Type;
    public float F;
    public long I;
    public string S = "";
    public TensorProto? T;
    public List<float> Floats = new();
    public List<long> Ints = new();
    public List<string> Strings = new();

    public void WriteTo(ProtoWriter w)
    {
        w.String(1, Name);
        switch (Type)
        {
            case OnnxAttributeType.Float: w.Float(2, F); break;
            case OnnxAttributeType.Int: w.Int64(3, I); break;
            case OnnxAttributeType.String: w.String(4, S); break;
            case OnnxAttributeType.Tensor: w.Message(5, T!); break;
            case OnnxAttributeType.Floats: w.PackedFloat(7, Floats); break;
            case OnnxAttributeType.Ints: w.PackedInt64(8, Ints); break;
            case OnnxAttributeType.Strings: foreach (var s in Strings) w.String(9, s); break;
            default: throw new InvalidOperationException($"Attribute type {Type} is not written by MLNetDeep.");
        }
        w.Int64(20, (long)Type);
    }
}

/// <summary>TensorProto: dims 1, data_type 2, int64_data 7 (packed), string_data 6, name 8, raw_data 9.</summary>
internal sealed class TensorProto : IProtoMessage
{
    public List<long> Dims = new();
    public OnnxDataType DataType;
    public string Name = "";
    public byte[]? RawData;
    public List<string>? StringData;

    public static TensorProto FromFloats(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        CheckCount(name, values.Length, dims);
        var raw = new byte[values.Length * 4];
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(raw);
        else for (int i = 0; i < values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        return new TensorProto { Name = name, DataType = OnnxDataType.Float, Dims = dims.ToList(), RawData = raw };
    }

    public static TensorProto FromInt64s(string name, ReadOnlySpan<long> values, params long[] dims)
    {
        CheckCount(name, values.Length, dims);
        var raw = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        return new TensorProto { Name = name, DataType = OnnxDataType.Int64, Dims = dims.ToList(), RawData = raw };
    }

    public static TensorProto FromStrings(string name, IReadOnlyList<string> values, params long[] dims)
    {
        CheckCount(name, values.Count, dims);
        return new TensorProto { Name = name, DataType = OnnxDataType.String, Dims = dims.ToList(), StringData = values.ToList() };
    }

    private static void CheckCount(string name, int count, long[] dims)
    {
        long expected = dims.Aggregate(1L, (a, b) => a * b);
        if (expected != count) throw new InvalidOperationException($"Tensor '{name}': {count} values for shape [{string.Join(", ", dims)}].");
    }

    public void WriteTo(ProtoWriter w)
    {
        w.PackedInt64(1, Dims);
        w.Int64(2, (long)DataType);
        if (StringData is not null) foreach (var s in StringData) w.Bytes(6, Encoding.UTF8.GetBytes(s));
        w.StringIfAny(8, Name);
        if (RawData is not null) w.Bytes(9, RawData);
    }
}

/// <summary>ValueInfoProto: name 1, type 2 (TypeProto), doc_string 3.</summary>
internal sealed class ValueInfoProto : IProtoMessage
{
    public string Name = "";
    public OnnxDataType ElemType;
    /// <summary>Dimensions: a number for a fixed size, a string for a named dynamic size. Empty = a scalar (rank 0).</summary>
    public List<object> Shape = new();
    public string DocString = "";

    public void WriteTo(ProtoWriter w)
    {
        w.String(1, Name);
        w.Message(2, new TypeProtoWriter(ElemType, Shape));
        w.StringIfAny(3, DocString);
    }

    /// <summary>TypeProto: tensor_type 1 → TypeProto.Tensor: elem_type 1, shape 2 → TensorShapeProto: dim 1 → Dimension: dim_value 1, dim_param 2.</summary>
    private sealed record TypeProtoWriter(OnnxDataType ElemType, List<object> Shape) : IProtoMessage
    {
        public void WriteTo(ProtoWriter w) => w.Message(1, new TensorTypeWriter(ElemType, Shape));
    }

    private sealed record TensorTypeWriter(OnnxDataType ElemType, List<object> Shape) : IProtoMessage
    {
        public void WriteTo(ProtoWriter w)
        {
            w.Int64(1, (long)ElemType);
            w.Message(2, new ShapeWriter(Shape)); // written even for scalars: an empty shape means rank 0
        }
    }

    private sealed record ShapeWriter(List<object> Shape) : IProtoMessage
    {
        public void WriteTo(ProtoWriter w)
        {
            foreach (var d in Shape) w.Message(1, new DimensionWriter(d));
        }
    }

    private sealed record DimensionWriter(object Dim) : IProtoMessage
    {
        public void WriteTo(ProtoWriter w)
        {
            switch (Dim)
            {
                case string p: w.String(2, p); break;
                default: w.Int64(1, Convert.ToInt64(Dim, System.Globalization.CultureInfo.InvariantCulture)); break;
            }
        }
    }
}
