using System.Buffers.Binary;
using System.Text;

namespace MLNetDeep.Onnx.Proto;

/// <summary>Protocol Buffers wire types (the low three bits of a field's tag).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// A minimal Protocol Buffers wire-format reader, the counterpart of <see cref="ProtoWriter"/>: tags, varints,
/// fixed32/fixed64, length-delimited fields (strings, bytes, nested messages, packed repeated scalars), and skipping
/// of fields a message does not know (including the deprecated groups). Written from the protobuf encoding
/// specification. A reader covers one message: <see cref="ReadMessage"/> gives a reader over a nested one.
/// Malformed input (a truncated field, a length past the end, a varint over ten bytes) throws
/// <see cref="InvalidDataException"/> naming the byte offset.
/// </summary>
internal sealed class ProtoReader
{
    private readonly ReadOnlyMemory<byte> _data;
    private readonly int _baseOffset;
    private int _pos;
    private int _lastTagStart;

    /// <summary>A reader over <paramref name="data"/>; <paramref name="baseOffset"/> only shifts the offsets in error messages.</summary>
    public ProtoReader(ReadOnlyMemory<byte> data, int baseOffset = 0)
    {
        _data = data;
        _baseOffset = baseOffset;
    }

    /// <summary>True when every byte of this message has been read.</summary>
    public bool AtEnd => _pos >= _data.Length;

    /// <summary>Offset of the next byte, from the start of the outermost buffer.</summary>
    public long Position => _baseOffset + _pos;

    /// <summary>Field number of the field just read by <see cref="NextField"/>.</summary>
    public int Field { get; private set; }

    /// <summary>Wire type of the field just read by <see cref="NextField"/>.</summary>
    public WireType Wire { get; private set; }

    /// <summary>Reads the next field's tag; false at the end of the message.</summary>
    public bool NextField()
    {
        if (AtEnd) return false;
        _lastTagStart = _pos;
        ulong tag = RawVarint();
        int wire = (int)(tag & 7);
        ulong field = tag >> 3;
        if (field == 0 || field > int.MaxValue) throw Bad($"field number {field} in a tag (it must be 1 to 2^29-1)");
        if (wire > 5) throw Bad($"wire type {wire} (field {field})");
        Field = (int)field;
        Wire = (WireType)wire;
        return true;
    }

    /// <summary>The raw bytes of the field just read (tag included), after skipping it: for fields kept unread so they can be written back.</summary>
    public byte[] SkipAndCapture()
    {
        int start = _lastTagStart;
        Skip();
        return _data.Span[start.._pos].ToArray();
    }

    /// <summary>Skips the value of the field just read, whatever its wire type.</summary>
    public void Skip() => SkipValue(Wire, Field);

    private void SkipValue(WireType wire, int field)
    {
        switch (wire)
        {
            case WireType.Varint: RawVarint(); break;
            case WireType.Fixed64: Take(8); break;
            case WireType.Fixed32: Take(4); break;
            case WireType.LengthDelimited: Take(Length()); break;
            case WireType.StartGroup:
                // a group runs to the EndGroup tag of the same field number; groups nest
                while (true)
                {
                    if (AtEnd) throw Bad($"group (field {field}) without its end tag");
                    ulong tag = RawVarint();
                    var w = (WireType)(int)(tag & 7);
                    int f = (int)(tag >> 3);
                    if (w == WireType.EndGroup)
                    {
                        if (f != field) throw Bad($"end tag of group {f} inside group {field}");
                        break;
                    }
                    if ((int)w > 5) throw Bad($"wire type {(int)w} (field {f})");
                    SkipValue(w, f);
                }
                break;
            case WireType.EndGroup: throw Bad($"end-group tag of field {field} outside a group");
            default: throw Bad($"wire type {(int)wire}");
        }
    }

    /// <summary>A varint field as an unsigned 64-bit value.</summary>
    public ulong ReadVarint()
    {
        Expect(WireType.Varint);
        return RawVarint();
    }

    /// <summary>An int64/int32/enum field (varint, two's complement; int32 negatives are sign-extended to ten bytes).</summary>
    public long ReadInt64() => (long)ReadVarint();

    /// <summary>An int32 field (the low 32 bits of the varint).</summary>
    public int ReadInt32() => (int)ReadVarint();

    /// <summary>A bool field.</summary>
    public bool ReadBool() => ReadVarint() != 0;

    /// <summary>A fixed32 field.</summary>
    public uint ReadFixed32()
    {
        Expect(WireType.Fixed32);
        return BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    }

    /// <summary>A fixed64 field.</summary>
    public ulong ReadFixed64()
    {
        Expect(WireType.Fixed64);
        return BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
    }

    /// <summary>A float field (fixed32).</summary>
    public float ReadFloat() => BitConverter.Int32BitsToSingle((int)ReadFixed32());

    /// <summary>A double field (fixed64).</summary>
    public double ReadDouble() => BitConverter.Int64BitsToDouble((long)ReadFixed64());

    /// <summary>A bytes field, copied.</summary>
    public byte[] ReadBytes() => ReadSpan().ToArray();

    /// <summary>A UTF-8 string field.</summary>
    public string ReadString() => Encoding.UTF8.GetString(ReadSpan());

    /// <summary>A nested message field: a reader over its bytes (this reader moves past them).</summary>
    public ProtoReader ReadMessage()
    {
        Expect(WireType.LengthDelimited);
        int length = Length();
        int start = _pos;
        Take(length);
        return new ProtoReader(_data.Slice(start, length), _baseOffset + start);
    }

    /// <summary>
    /// A repeated varint field (int64, int32, enum, bool, uint64) into <paramref name="values"/>: one element when
    /// the field is unpacked (a varint), all of them when packed (length-delimited).
    /// </summary>
    public void ReadRepeatedInt64(List<long> values)
    {
        if (Wire == WireType.Varint) { values.Add((long)RawVarint()); return; }
        var packed = ReadPacked();
        while (!packed.AtEnd) values.Add((long)packed.RawVarint());
    }

    /// <summary>A repeated int32 field: as <see cref="ReadRepeatedInt64"/>, keeping the low 32 bits.</summary>
    public void ReadRepeatedInt32(List<int> values)
    {
        if (Wire == WireType.Varint) { values.Add((int)RawVarint()); return; }
        var packed = ReadPacked();
        while (!packed.AtEnd) values.Add((int)packed.RawVarint());
    }

    /// <summary>A repeated varint field holding unsigned 64-bit values (uint64_data).</summary>
    public void ReadRepeatedUInt64(List<ulong> values)
    {
        if (Wire == WireType.Varint) { values.Add(RawVarint()); return; }
        var packed = ReadPacked();
        while (!packed.AtEnd) values.Add(packed.RawVarint());
    }

    /// <summary>A repeated float field, packed or not.</summary>
    public void ReadRepeatedFloat(List<float> values)
    {
        if (Wire == WireType.Fixed32) { values.Add(ReadFloat()); return; }
        var span = PackedSpan(4, "float");
        for (int i = 0; i < span.Length; i += 4) values.Add(BinaryPrimitives.ReadSingleLittleEndian(span[i..]));
    }

    /// <summary>A repeated double field, packed or not.</summary>
    public void ReadRepeatedDouble(List<double> values)
    {
        if (Wire == WireType.Fixed64) { values.Add(ReadDouble()); return; }
        var span = PackedSpan(8, "double");
        for (int i = 0; i < span.Length; i += 8) values.Add(BinaryPrimitives.ReadDoubleLittleEndian(span[i..]));
    }

    private ReadOnlySpan<byte> PackedSpan(int elementSize, string what)
    {
        long at = Position;
        var span = ReadSpan();
        if (span.Length % elementSize != 0)
            throw new InvalidDataException($"Malformed protobuf data at byte {at}: a packed {what} field (field {Field}) of {span.Length} bytes, not a multiple of {elementSize}.");
        return span;
    }

    private ProtoReader ReadPacked()
    {
        if (Wire != WireType.LengthDelimited) throw Bad($"wire type {(int)Wire} for repeated field {Field}");
        return ReadMessage();
    }

    private ReadOnlySpan<byte> ReadSpan()
    {
        Expect(WireType.LengthDelimited);
        return Take(Length());
    }

    private int Length()
    {
        ulong length = RawVarint();
        if (length > (ulong)(_data.Length - _pos))
            throw Bad($"length {length} of field {Field}, past the end of its message ({_data.Length - _pos} bytes left)");
        return (int)length;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _pos) throw Bad($"field {Field} cut short (needs {count} bytes, {_data.Length - _pos} left)");
        var span = _data.Span.Slice(_pos, count);
        _pos += count;
        return span;
    }

    private ulong RawVarint()
    {
        var span = _data.Span;
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_pos >= span.Length) throw Bad("varint cut short by the end of the data");
            byte b = span[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw Bad("varint longer than ten bytes");
    }

    private void Expect(WireType wire)
    {
        if (Wire != wire) throw Bad($"wire type {(int)Wire} for field {Field}, expected {(int)wire} ({wire})");
    }

    private InvalidDataException Bad(string what) =>
        new($"Malformed protobuf data at byte {Position}: {what}. The file is not a valid ONNX model, or it is truncated.");
}
