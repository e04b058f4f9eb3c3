using System.Runtime.InteropServices;
using System.Text;

namespace MLNetDeep.Onnx.Proto;

// The subset of the ONNX protobuf schema (onnx.proto, IR version 3 to 10) that MLNetDeep writes and reads.
// Field numbers are those of the ONNX specification; every class documents its message. Each message reads
// itself from a ProtoReader (Read) and writes itself with a ProtoWriter (WriteTo). Fields a class does not model
// (training_info, functions, sparse initializers, graph-valued attributes, ...) are kept as their encoded bytes in
// Unknown and written back unchanged, so a model read and written again keeps them.

/// <summary>ONNX tensor element types (TensorProto.DataType).</summary>
internal enum OnnxDataType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
    Complex64 = 14,
    Complex128 = 15,
    BFloat16 = 16,
}

/// <summary>AttributeProto.AttributeType.</summary>
internal enum OnnxAttributeType
{
    Undefined = 0,
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Graph = 5,
    Floats = 6,
    Ints = 7,
    Strings = 8,
    Tensors = 9,
    Graphs = 10,
    SparseTensor = 11,
    SparseTensors = 12,
    TypeProto = 13,
    TypeProtos = 14,
}

/// <summary>Fields a message keeps as encoded bytes because it does not model them.</summary>
internal abstract class ProtoMessageBase
{
    /// <summary>Encoded fields (tag and value) that were read but not decoded; written back after the known fields.</summary>
    public List<byte[]> Unknown = new();

    /// <summary>Keeps the field the reader is on for writing back.</summary>
    protected void Keep(ProtoReader r) => Unknown.Add(r.SkipAndCapture());

    /// <summary>Writes the kept fields.</summary>
    protected void WriteUnknown(ProtoWriter w)
    {
        foreach (var u in Unknown) w.Raw(u);
    }
}

/// <summary>ModelProto: ir_version 1, producer_name 2, producer_version 3, domain 4, model_version 5, doc_string 6, graph 7, opset_import 8, metadata_props 14.</summary>
internal sealed class ModelProto : ProtoMessageBase, IProtoMessage
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
        WriteUnknown(w);
    }

    /// <summary>Decodes a serialised model (the bytes of a .onnx file).</summary>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed protobuf message.</exception>
    public static ModelProto Parse(ReadOnlyMemory<byte> bytes) => Read(new ProtoReader(bytes));

    /// <summary>Reads a whole model from <paramref name="stream"/> (to its end).</summary>
    public static ModelProto Load(Stream stream)
    {
        if (stream is MemoryStream ms && ms.TryGetBuffer(out var segment))
        {
            var rest = segment.AsMemory((int)ms.Position);
            ms.Position = ms.Length;
            return Parse(rest);
        }
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Parse(copy.GetBuffer().AsMemory(0, (int)copy.Length));
    }

    public static ModelProto Read(ProtoReader r)
    {
        var m = new ModelProto();
        bool sawGraph = false;
        while (r.NextField())
        {
            switch (r.Field)
            {
                case 1 when r.Wire == WireType.Varint: m.IrVersion = r.ReadInt64(); break;
                case 2 when r.Wire == WireType.LengthDelimited: m.ProducerName = r.ReadString(); break;
                case 3 when r.Wire == WireType.LengthDelimited: m.ProducerVersion = r.ReadString(); break;
                case 4 when r.Wire == WireType.LengthDelimited: m.Domain = r.ReadString(); break;
                case 5 when r.Wire == WireType.Varint: m.ModelVersion = r.ReadInt64(); break;
                case 6 when r.Wire == WireType.LengthDelimited: m.DocString = r.ReadString(); break;
                case 7 when r.Wire == WireType.LengthDelimited: m.Graph = GraphProto.Read(r.ReadMessage()); sawGraph = true; break;
                case 8 when r.Wire == WireType.LengthDelimited: m.OpsetImport.Add(OperatorSetIdProto.Read(r.ReadMessage())); break;
                case 14 when r.Wire == WireType.LengthDelimited:
                {
                    var e = StringStringEntryProto.Read(r.ReadMessage());
                    m.MetadataProps.Add((e.Key, e.Value));
                    break;
                }
                default: m.Keep(r); break;
            }
        }
        if (!sawGraph && m.IrVersion == 0)
            throw new InvalidDataException("The data decodes as protobuf but holds neither an ir_version nor a graph: it is not an ONNX model.");
        return m;
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

    public static OperatorSetIdProto Read(ProtoReader r)
    {
        string domain = "";
        long version = 0;
        while (r.NextField())
        {
            if (r.Field == 1 && r.Wire == WireType.LengthDelimited) domain = r.ReadString();
            else if (r.Field == 2 && r.Wire == WireType.Varint) version = r.ReadInt64();
            else r.Skip();
        }
        return new OperatorSetIdProto(domain, version);
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

    public static StringStringEntryProto Read(ProtoReader r)
    {
        string key = "", value = "";
        while (r.NextField())
        {
            if (r.Field == 1 && r.Wire == WireType.LengthDelimited) key = r.ReadString();
            else if (r.Field == 2 && r.Wire == WireType.LengthDelimited) value = r.ReadString();
            else r.Skip();
        }
        return new StringStringEntryProto(key, value);
    }
}

/// <summary>GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12, value_info 13.</summary>
internal sealed class GraphProto : ProtoMessageBase, IProtoMessage
{
    public List<NodeProto> Nodes = new();
    public string Name = "";
    public List<TensorProto> Initializers = new();
    public string DocString = "";
    public List<ValueInfoProto> Inputs = new();
    public List<ValueInfoProto> Outputs = new();
    /// <summary>Shapes and types of intermediate values, when the producer wrote them.</summary>
    public List<ValueInfoProto> ValueInfo = new();

    public void WriteTo(ProtoWriter w)
    {
        foreach (var n in Nodes) w.Message(1, n);
        w.StringIfAny(2, Name);
        foreach (var t in Initializers) w.Message(5, t);
        w.StringIfAny(10, DocString);
        foreach (var i in Inputs) w.Message(11, i);
        foreach (var o in Outputs) w.Message(12, o);
        foreach (var v in ValueInfo) w.Message(13, v);
        WriteUnknown(w);
    }

    public static GraphProto Read(ProtoReader r)
    {
        var g = new GraphProto();
        while (r.NextField())
        {
            if (r.Wire != WireType.LengthDelimited) { g.Keep(r); continue; }
            switch (r.Field)
            {
                case 1: g.Nodes.Add(NodeProto.Read(r.ReadMessage())); break;
                case 2: g.Name = r.ReadString(); break;
                case 5: g.Initializers.Add(TensorProto.Read(r.ReadMessage())); break;
                case 10: g.DocString = r.ReadString(); break;
                case 11: g.Inputs.Add(ValueInfoProto.Read(r.ReadMessage())); break;
                case 12: g.Outputs.Add(ValueInfoProto.Read(r.ReadMessage())); break;
                case 13: g.ValueInfo.Add(ValueInfoProto.Read(r.ReadMessage())); break;
                default: g.Keep(r); break; // sparse_initializer 15, quantization_annotation 14, metadata_props 16
            }
        }
        return g;
    }
}

/// <summary>NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, doc_string 6, domain 7.</summary>
internal sealed class NodeProto : ProtoMessageBase, IProtoMessage
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
        WriteUnknown(w);
    }

    public static NodeProto Read(ProtoReader r)
    {
        var n = new NodeProto();
        while (r.NextField())
        {
            if (r.Wire != WireType.LengthDelimited) { n.Keep(r); continue; }
            switch (r.Field)
            {
                case 1: n.Inputs.Add(r.ReadString()); break;
                case 2: n.Outputs.Add(r.ReadString()); break;
                case 3: n.Name = r.ReadString(); break;
                case 4: n.OpType = r.ReadString(); break;
                case 5: n.Attributes.Add(AttributeProto.Read(r.ReadMessage())); break;
                case 6: n.DocString = r.ReadString(); break;
                case 7: n.Domain = r.ReadString(); break;
                default: n.Keep(r); break; // overload 8, metadata_props 9, device_configurations 10
            }
        }
        return n;
    }
}

/// <summary>
/// AttributeProto: name 1, f 2, i 3, s 4, t 5, g 6, floats 7, ints 8, strings 9, tensors 10, graphs 11,
/// doc_string 13, type 20, ref_attr_name 21. Graph, sparse-tensor and type-proto values are kept undecoded
/// (<see cref="ProtoMessageBase.Unknown"/>): MLNetDeep's importer has no control-flow operators that would read them.
/// </summary>
internal sealed class AttributeProto : ProtoMessageBase, IProtoMessage
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
    public List<TensorProto> Tensors = new();
    public string DocString = "";
    /// <summary>Inside a function body: the name of the function's attribute this one takes its value from.</summary>
    public string RefAttrName = "";

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
            case OnnxAttributeType.Tensors: foreach (var t in Tensors) w.Message(10, t); break;
            case OnnxAttributeType.Graph or OnnxAttributeType.Graphs or OnnxAttributeType.SparseTensor
                or OnnxAttributeType.SparseTensors or OnnxAttributeType.TypeProto or OnnxAttributeType.TypeProtos:
                break; // the value is in Unknown, written below
            default:
                if (Unknown.Count == 0 && RefAttrName.Length == 0)
                    throw new InvalidOperationException($"Attribute '{Name}' has no type; set AttributeProto.Type.");
                break;
        }
        w.StringIfAny(13, DocString);
        if (Type != OnnxAttributeType.Undefined) w.Int64(20, (long)Type);
        w.StringIfAny(21, RefAttrName);
        WriteUnknown(w);
    }

    public static AttributeProto Read(ProtoReader r)
    {
        var a = new AttributeProto();
        var seen = OnnxAttributeType.Undefined; // what the value fields say, for files that omit 'type' (IR < 3 writers)
        while (r.NextField())
        {
            switch (r.Field)
            {
                case 1 when r.Wire == WireType.LengthDelimited: a.Name = r.ReadString(); break;
                case 2 when r.Wire == WireType.Fixed32: a.F = r.ReadFloat(); seen = OnnxAttributeType.Float; break;
                case 3 when r.Wire == WireType.Varint: a.I = r.ReadInt64(); seen = OnnxAttributeType.Int; break;
                case 4 when r.Wire == WireType.LengthDelimited: a.S = r.ReadString(); seen = OnnxAttributeType.String; break;
                case 5 when r.Wire == WireType.LengthDelimited: a.T = TensorProto.Read(r.ReadMessage()); seen = OnnxAttributeType.Tensor; break;
                case 6: a.Keep(r); seen = OnnxAttributeType.Graph; break;
                case 7: r.ReadRepeatedFloat(a.Floats); seen = OnnxAttributeType.Floats; break;
                case 8: r.ReadRepeatedInt64(a.Ints); seen = OnnxAttributeType.Ints; break;
                case 9 when r.Wire == WireType.LengthDelimited: a.Strings.Add(r.ReadString()); seen = OnnxAttributeType.Strings; break;
                case 10 when r.Wire == WireType.LengthDelimited: a.Tensors.Add(TensorProto.Read(r.ReadMessage())); seen = OnnxAttributeType.Tensors; break;
                case 11: a.Keep(r); seen = OnnxAttributeType.Graphs; break;
                case 13 when r.Wire == WireType.LengthDelimited: a.DocString = r.ReadString(); break;
                case 20 when r.Wire == WireType.Varint: a.Type = (OnnxAttributeType)r.ReadInt64(); break;
                case 21 when r.Wire == WireType.LengthDelimited: a.RefAttrName = r.ReadString(); break;
                default: a.Keep(r); break; // sparse_tensor 22, sparse_tensors 23, tp 14, type_protos 15
            }
        }
        if (a.Type == OnnxAttributeType.Undefined) a.Type = seen;
        return a;
    }
}

/// <summary>
/// TensorProto: dims 1, data_type 2, float_data 4, int32_data 5, string_data 6, int64_data 7, name 8, raw_data 9,
/// double_data 10, uint64_data 11, doc_string 12, external_data 13, data_location 14.
/// </summary>
internal sealed class TensorProto : ProtoMessageBase, IProtoMessage
{
    public List<long> Dims = new();
    public OnnxDataType DataType;
    public string Name = "";
    public byte[]? RawData;
    public List<string>? StringData;
    public List<float> FloatData = new();
    /// <summary>int32, int16, int8, uint16, uint8 and bool values, and float16/bfloat16 bit patterns (low 16 bits).</summary>
    public List<int> Int32Data = new();
    public List<long> Int64Data = new();
    public List<double> DoubleData = new();
    /// <summary>uint32 and uint64 values.</summary>
    public List<ulong> UInt64Data = new();
    public string DocString = "";
    /// <summary>Where the values live when <see cref="DataLocation"/> is 1 (EXTERNAL): location, offset, length, checksum.</summary>
    public List<(string Key, string Value)> ExternalData = new();
    /// <summary>0 = DEFAULT (in this message), 1 = EXTERNAL.</summary>
    public long DataLocation;

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

    /// <summary>Number of elements the dims describe (1 for a scalar).</summary>
    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    /// <summary>True when the values live in a file beside the model rather than in this message.</summary>
    public bool IsExternal => DataLocation == 1 || ExternalData.Count > 0;

    /// <summary>Bytes per element of a fixed-size element type; 0 for strings and undefined.</summary>
    public static int ElementSize(OnnxDataType type) => type switch
    {
        OnnxDataType.Bool or OnnxDataType.UInt8 or OnnxDataType.Int8 => 1,
        OnnxDataType.Float16 or OnnxDataType.BFloat16 or OnnxDataType.Int16 or OnnxDataType.UInt16 => 2,
        OnnxDataType.Float or OnnxDataType.Int32 or OnnxDataType.UInt32 => 4,
        OnnxDataType.Double or OnnxDataType.Int64 or OnnxDataType.UInt64 or OnnxDataType.Complex64 => 8,
        OnnxDataType.Complex128 => 16,
        _ => 0,
    };

    /// <summary>
    /// The values as little-endian bytes of the element type (ElementCount × ElementSize), whether the file stored
    /// them in raw_data or in the typed repeated field. Throws for external data, strings and a count that disagrees
    /// with the dims.
    /// </summary>
    public byte[] ToLittleEndianBytes()
    {
        string label = Name.Length > 0 ? $"Tensor '{Name}'" : "A tensor";
        if (IsExternal)
        {
            var location = ExternalData.FirstOrDefault(e => e.Key == "location").Value ?? "?";
            throw new NotSupportedException(
                $"{label} keeps its values in an external file (location '{location}'); MLNetDeep reads ONNX models whose " +
                "tensors are stored inside the file. Save the model again with its data inside, e.g. in Python: " +
                "onnx.save_model(onnx.load(path), new_path, save_as_external_data=False).");
        }
        int size = ElementSize(DataType);
        if (size == 0) throw new NotSupportedException($"{label} has element type {DataType}, which has no fixed-size numeric layout.");
        long count = ElementCount;
        if (count < 0) throw new InvalidDataException($"{label} has a negative dimension: [{string.Join(", ", Dims)}].");
        long bytes = count * size;
        if (bytes > Array.MaxLength) throw new NotSupportedException($"{label} holds {bytes} bytes, more than one .NET array can.");
        if (RawData is not null)
        {
            if (RawData.Length != bytes)
                throw new InvalidDataException($"{label}: raw_data has {RawData.Length} bytes; shape [{string.Join(", ", Dims)}] of {DataType} needs {bytes}.");
            return RawData;
        }
        var result = new byte[bytes];
        var span = result.AsSpan();
        void Check(int stored)
        {
            if (stored != count)
                throw new InvalidDataException($"{label}: {stored} stored values for shape [{string.Join(", ", Dims)}] ({count} values).");
        }
        switch (DataType)
        {
            case OnnxDataType.Float:
                Check(FloatData.Count);
                for (int i = 0; i < FloatData.Count; i++) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(span[(i * 4)..], FloatData[i]);
                break;
            case OnnxDataType.Complex64:
                Check(FloatData.Count / 2);
                for (int i = 0; i < FloatData.Count; i++) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(span[(i * 4)..], FloatData[i]);
                break;
            case OnnxDataType.Double:
                Check(DoubleData.Count);
                for (int i = 0; i < DoubleData.Count; i++) System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(span[(i * 8)..], DoubleData[i]);
                break;
            case OnnxDataType.Complex128:
                Check(DoubleData.Count / 2);
                for (int i = 0; i < DoubleData.Count; i++) System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(span[(i * 8)..], DoubleData[i]);
                break;
            case OnnxDataType.Int64:
                Check(Int64Data.Count);
                for (int i = 0; i < Int64Data.Count; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(span[(i * 8)..], Int64Data[i]);
                break;
            case OnnxDataType.UInt32:
                Check(UInt64Data.Count);
                for (int i = 0; i < UInt64Data.Count; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(span[(i * 4)..], (uint)UInt64Data[i]);
                break;
            case OnnxDataType.UInt64:
                Check(UInt64Data.Count);
                for (int i = 0; i < UInt64Data.Count; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(span[(i * 8)..], UInt64Data[i]);
                break;
            default:
                // int32_data carries every type of 32 bits or fewer, one value per element, in its low bits
                Check(Int32Data.Count);
                for (int i = 0; i < Int32Data.Count; i++)
                {
                    int v = Int32Data[i];
                    switch (size)
                    {
                        case 1: span[i] = (byte)v; break;
                        case 2: System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(span[(i * 2)..], (ushort)v); break;
                        default: System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(span[(i * 4)..], v); break;
                    }
                }
                break;
        }
        return result;
    }

    public void WriteTo(ProtoWriter w)
    {
        w.PackedInt64(1, Dims);
        w.Int64(2, (long)DataType);
        w.PackedFloat(4, FloatData);
        w.PackedInt32(5, Int32Data);
        if (StringData is not null) foreach (var s in StringData) w.Bytes(6, Encoding.UTF8.GetBytes(s));
        w.PackedInt64(7, Int64Data);
        w.StringIfAny(8, Name);
        if (RawData is not null) w.Bytes(9, RawData);
        w.PackedDouble(10, DoubleData);
        w.PackedUInt64(11, UInt64Data);
        w.StringIfAny(12, DocString);
        foreach (var (k, v) in ExternalData) w.Message(13, new StringStringEntryProto(k, v));
        w.Int64IfNonZero(14, DataLocation);
        WriteUnknown(w);
    }

    public static TensorProto Read(ProtoReader r)
    {
        var t = new TensorProto();
        while (r.NextField())
        {
            switch (r.Field)
            {
                case 1: r.ReadRepeatedInt64(t.Dims); break;
                case 2 when r.Wire == WireType.Varint: t.DataType = (OnnxDataType)r.ReadInt64(); break;
                case 4: r.ReadRepeatedFloat(t.FloatData); break;
                case 5: r.ReadRepeatedInt32(t.Int32Data); break;
                case 6 when r.Wire == WireType.LengthDelimited: (t.StringData ??= new()).Add(r.ReadString()); break;
                case 7: r.ReadRepeatedInt64(t.Int64Data); break;
                case 8 when r.Wire == WireType.LengthDelimited: t.Name = r.ReadString(); break;
                case 9 when r.Wire == WireType.LengthDelimited: t.RawData = r.ReadBytes(); break;
                case 10: r.ReadRepeatedDouble(t.DoubleData); break;
                case 11: r.ReadRepeatedUInt64(t.UInt64Data); break;
                case 12 when r.Wire == WireType.LengthDelimited: t.DocString = r.ReadString(); break;
                case 13 when r.Wire == WireType.LengthDelimited:
                {
                    var e = StringStringEntryProto.Read(r.ReadMessage());
                    t.ExternalData.Add((e.Key, e.Value));
                    break;
                }
                case 14 when r.Wire == WireType.Varint: t.DataLocation = r.ReadInt64(); break;
                default: t.Keep(r); break; // segment 3
            }
        }
        return t;
    }
}

/// <summary>
/// ValueInfoProto: name 1, type 2 (TypeProto), doc_string 3. Tensor types are decoded into <see cref="ElemType"/>
/// and <see cref="Shape"/>; other types (sequence, map, optional, sparse) are kept as their encoded TypeProto.
/// </summary>
internal sealed class ValueInfoProto : ProtoMessageBase, IProtoMessage
{
    /// <summary>A dimension with neither a size nor a name (an empty TensorShapeProto.Dimension).</summary>
    public static readonly object UnknownDim = new UnknownDimension();

    public string Name = "";
    public OnnxDataType ElemType;
    /// <summary>Dimensions: a number for a fixed size, a string for a named dynamic size, <see cref="UnknownDim"/> for neither. Empty = a scalar (rank 0).</summary>
    public List<object> Shape = new();
    /// <summary>False when the tensor type has no shape at all (unknown rank), as opposed to an empty shape (a scalar).</summary>
    public bool HasShape = true;
    /// <summary>The encoded TypeProto when the value is not a tensor (sequence, map, optional, sparse tensor).</summary>
    public byte[]? OtherType;
    public string DocString = "";

    public void WriteTo(ProtoWriter w)
    {
        w.String(1, Name);
        if (OtherType is not null) w.Bytes(2, OtherType);
        else w.Message(2, new TypeProtoWriter(ElemType, HasShape ? Shape : null));
        w.StringIfAny(3, DocString);
        WriteUnknown(w);
    }

    public static ValueInfoProto Read(ProtoReader r)
    {
        var v = new ValueInfoProto { HasShape = false };
        while (r.NextField())
        {
            switch (r.Field)
            {
                case 1 when r.Wire == WireType.LengthDelimited: v.Name = r.ReadString(); break;
                case 2 when r.Wire == WireType.LengthDelimited: ReadType(v, r); break;
                case 3 when r.Wire == WireType.LengthDelimited: v.DocString = r.ReadString(); break;
                default: v.Keep(r); break;
            }
        }
        return v;
    }

    private static void ReadType(ValueInfoProto v, ProtoReader r)
    {
        var encoded = r.ReadBytes();
        var type = new ProtoReader(encoded);
        bool tensor = false, other = false;
        while (type.NextField())
        {
            if (type.Field == 1 && type.Wire == WireType.LengthDelimited)
            {
                tensor = true;
                var tt = type.ReadMessage();
                while (tt.NextField())
                {
                    if (tt.Field == 1 && tt.Wire == WireType.Varint) v.ElemType = (OnnxDataType)tt.ReadInt64();
                    else if (tt.Field == 2 && tt.Wire == WireType.LengthDelimited) { v.HasShape = true; ReadShape(v.Shape, tt.ReadMessage()); }
                    else tt.Skip();
                }
            }
            else if (type.Field == 6) type.Skip(); // denotation: not kept
            else { other = true; type.Skip(); }
        }
        if (other || !tensor) v.OtherType = encoded;
    }

    private static void ReadShape(List<object> shape, ProtoReader r)
    {
        while (r.NextField())
        {
            if (r.Field != 1 || r.Wire != WireType.LengthDelimited) { r.Skip(); continue; }
            var d = r.ReadMessage();
            object dim = UnknownDim;
            while (d.NextField())
            {
                if (d.Field == 1 && d.Wire == WireType.Varint) dim = d.ReadInt64();
                else if (d.Field == 2 && d.Wire == WireType.LengthDelimited) dim = d.ReadString();
                else d.Skip(); // denotation 3
            }
            shape.Add(dim);
        }
    }

    private sealed class UnknownDimension
    {
        public override string ToString() => "?";
    }

    /// <summary>TypeProto: tensor_type 1 → TypeProto.Tensor: elem_type 1, shape 2 → TensorShapeProto: dim 1 → Dimension: dim_value 1, dim_param 2.</summary>
    private sealed record TypeProtoWriter(OnnxDataType ElemType, List<object>? Shape) : IProtoMessage
    {
        public void WriteTo(ProtoWriter w) => w.Message(1, new TensorTypeWriter(ElemType, Shape));
    }

    private sealed record TensorTypeWriter(OnnxDataType ElemType, List<object>? Shape) : IProtoMessage
    {
        public void WriteTo(ProtoWriter w)
        {
            w.Int64(1, (long)ElemType);
            if (Shape is not null) w.Message(2, new ShapeWriter(Shape)); // written even for scalars: an empty shape means rank 0
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
                case UnknownDimension: break;
                case string p: w.String(2, p); break;
                default: w.Int64(1, Convert.ToInt64(Dim, System.Globalization.CultureInfo.InvariantCulture)); break;
            }
        }
    }
}
