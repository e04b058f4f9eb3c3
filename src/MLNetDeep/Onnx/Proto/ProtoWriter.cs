using System.Buffers.Binary;
using System.Text;

namespace MLNetDeep.Onnx.Proto;

/// <summary>
/// A minimal Protocol Buffers wire-format writer (varints, 64-bit, length-delimited and 32-bit fields),
/// enough to serialise the ONNX messages in OnnxMessages.cs. Written from the protobuf
/// encoding specification; nested messages are serialised first, then written with their length.
/// </summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _buffer = new();

    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    /// <summary>Bytes written so far.</summary>
    public long Length => _buffer.Length;

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _buffer.GetBuffer().AsSpan(0, (int)_buffer.Length);

    /// <summary>Copies the written bytes to <paramref name="destination"/>.</summary>
    public void CopyTo(Stream destination) => destination.Write(_buffer.GetBuffer(), 0, (int)_buffer.Length);

    private void Tag(int field, int wireType) => RawVarint(((ulong)(uint)field << 3) | (uint)wireType);

    private void RawVarint(ulong value)
    {
        Span<byte> bytes = stackalloc byte[10];
        int n = 0;
        while (value >= 0x80)
        {
            bytes[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        bytes[n++] = (byte)value;
        _buffer.Write(bytes[..n]);
    }

    /// <summary>An int64/int32/enum/bool field (negative values take ten bytes, as protobuf requires for int32 and int64).</summary>
    public void Int64(int field, long value)
    {
        Tag(field, WireVarint);
        RawVarint((ulong)value);
    }

    /// <summary>An int64 field, skipped when zero (proto3 default).</summary>
    public void Int64IfNonZero(int field, long value)
    {
        if (value != 0) Int64(field, value);
    }

    /// <summary>A float (fixed32) field.</summary>
    public void Float(int field, float value)
    {
        Tag(field, WireFixed32);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, value);
        _buffer.Write(b);
    }

    /// <summary>A double (fixed64) field.</summary>
    public void Double(int field, double value)
    {
        Tag(field, WireFixed64);
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(b, value);
        _buffer.Write(b);
    }

    /// <summary>Bytes that are already a field's encoding (tag included): fields read but not understood, written back as they were.</summary>
    public void Raw(ReadOnlySpan<byte> encodedField) => _buffer.Write(encodedField);

    /// <summary>A bytes field.</summary>
    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, WireLengthDelimited);
        RawVarint((ulong)value.Length);
        _buffer.Write(value);
    }

    /// <summary>A UTF-8 string field.</summary>
    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A string field, skipped when null or empty (proto3 default).</summary>
    public void StringIfAny(int field, string? value)
    {
        if (!string.IsNullOrEmpty(value)) String(field, value);
    }

    /// <summary>A packed repeated int64 field (skipped when empty).</summary>
    public void PackedInt64(int field, IReadOnlyList<long> values)
    {
        if (values.Count == 0) return;
        var inner = new ProtoWriter();
        foreach (var v in values) inner.RawVarint((ulong)v);
        Bytes(field, inner.Written);
    }

    /// <summary>A packed repeated int32 field (skipped when empty); negative values take ten bytes, as protobuf requires.</summary>
    public void PackedInt32(int field, IReadOnlyList<int> values)
    {
        if (values.Count == 0) return;
        var inner = new ProtoWriter();
        foreach (var v in values) inner.RawVarint((ulong)(long)v);
        Bytes(field, inner.Written);
    }

    /// <summary>A packed repeated uint64 field (skipped when empty).</summary>
    public void PackedUInt64(int field, IReadOnlyList<ulong> values)
    {
        if (values.Count == 0) return;
        var inner = new ProtoWriter();
        foreach (var v in values) inner.RawVarint(v);
        Bytes(field, inner.Written);
    }

    /// <summary>A packed repeated double field (skipped when empty).</summary>
    public void PackedDouble(int field, IReadOnlyList<double> values)
    {
        if (values.Count == 0) return;
        var bytes = new byte[values.Count * 8];
        for (int i = 0; i < values.Count; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
        Bytes(field, bytes);
    }

    /// <summary>A packed repeated float field (skipped when empty).</summary>
    public void PackedFloat(int field, IReadOnlyList<float> values)
    {
        if (values.Count == 0) return;
        var bytes = new byte[values.Count * 4];
        for (int i = 0; i < values.Count; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        Bytes(field, bytes);
    }

    /// <summary>A nested message field (always written, even when the message is empty).</summary>
    public void Message(int field, IProtoMessage message)
    {
        var inner = new ProtoWriter();
        message.WriteTo(inner);
        Bytes(field, inner.Written);
    }

    /// <summary>Serialises <paramref name="message"/> on its own.</summary>
    public static byte[] Serialize(IProtoMessage message)
    {
        var w = new ProtoWriter();
        message.WriteTo(w);
        return w.Written.ToArray();
    }
}

/// <summary>A message that writes its fields with a <see cref="ProtoWriter"/>.</summary>
internal interface IProtoMessage
{
    /// <summary>Writes this message's fields (without a tag or length of its own).</summary>
    void WriteTo(ProtoWriter writer);
}
