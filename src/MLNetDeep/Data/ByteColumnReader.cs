using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetDeep.Data;

/// <summary>
/// Reads a Byte vector column row by row into a reusable byte buffer (dense or sparse VBuffer), so byte features
/// (e.g. <c>ExtractPixels(outputAsFloatArray: false)</c>) stay bytes: a quarter of the memory of floats.
/// </summary>
internal sealed class ByteColumnReader
{
    private readonly ValueGetter<VBuffer<byte>> _getter;
    private VBuffer<byte> _value;
    private byte[] _buffer = Array.Empty<byte>();

    public ByteColumnReader(DataViewRow row, DataViewSchema.Column column) => _getter = row.GetGetter<VBuffer<byte>>(column);

    /// <summary>The current row's values (valid until the next call).</summary>
    public ReadOnlySpan<byte> Read()
    {
        _getter(ref _value);
        if (_value.IsDense) return _value.GetValues();
        if (_buffer.Length != _value.Length) _buffer = new byte[_value.Length];
        Array.Clear(_buffer);
        var values = _value.GetValues();
        var indices = _value.GetIndices();
        for (int i = 0; i < values.Length; i++) _buffer[indices[i]] = values[i];
        return _buffer;
    }
}
