using System.Runtime.InteropServices;
using Microsoft.ML;
using static TorchSharp.torch;

namespace MLNetDeep.Data;

/// <summary>
/// Reads one row's features from a cursor and checks them: floats through the layout's row check, bytes (kept as
/// bytes) by their count. Row numbers in messages are the source's.
/// </summary>
internal sealed class FeatureRowReader
{
    private readonly DataColumns _c;
    private readonly FeatureColumnReader? _floats;
    private readonly ByteColumnReader? _bytes;
    private readonly long _rowSize;

    public FeatureRowReader(DataViewRow cursor, DataColumns columns, bool bytes, long rowSize)
    {
        _c = columns;
        _rowSize = rowSize;
        var column = cursor.Schema[columns.Feature];
        if (bytes) _bytes = new ByteColumnReader(cursor, column);
        else _floats = new FeatureColumnReader(cursor, column);
    }

    /// <summary>The current row as floats (float columns only), checked.</summary>
    public ReadOnlySpan<float> Floats(long row)
    {
        var span = _floats!.Read();
        _c.Layout.ValidateRow(_c.Feature, row, span);
        return span;
    }

    /// <summary>The current row as bytes (Byte columns only); a byte is always finite, so only the count is checked.</summary>
    public ReadOnlySpan<byte> Bytes(long row)
    {
        var span = _bytes!.Read();
        if (span.Length != _rowSize)
            throw new InvalidDataException($"Feature column '{_c.Feature}', row {row}: {span.Length} values, expected {_rowSize}.");
        return span;
    }
}

/// <summary>An append-only buffer of unmanaged values (avoids List growth per element).</summary>
internal class GrowableBuffer<T> where T : unmanaged
{
    private T[] _data;
    public long Count { get; private set; }

    public GrowableBuffer(long capacity) => _data = new T[Math.Clamp(capacity, 16, Array.MaxLength)];

    public void Append(ReadOnlySpan<T> values)
    {
        if (Count + values.Length > _data.Length)
        {
            long size = Math.Max(Count + values.Length, (long)_data.Length * 2);
            if (Count + values.Length > Array.MaxLength)
                throw new InsufficientMemoryException(
                    $"The data set needs more than {Array.MaxLength} feature values in memory; train on a sample or a smaller image size, " +
                    "or stream it (Data = new DataOptions { Mode = DataMode.Streaming }).");
            Array.Resize(ref _data, (int)Math.Min(size, Array.MaxLength));
        }
        values.CopyTo(_data.AsSpan((int)Count));
        Count += values.Length;
    }

    public ReadOnlySpan<T> AsSpan() => _data.AsSpan(0, (int)Count);

    public void Clear() => Count = 0;
}

/// <summary>An append-only float buffer.</summary>
internal sealed class GrowableFloats : GrowableBuffer<float>
{
    public GrowableFloats(long capacity) : base(capacity) { }
}

/// <summary>
/// Rows of one fixed shape written straight into a CPU tensor's memory (no managed copy of the whole set) while the
/// row count is within the announced capacity; past it (a source that returned more rows than it announced) the rows
/// move to a growing managed buffer. <see cref="Finish"/> gives the [rows, ...shape] tensor.
/// </summary>
internal sealed class DenseRowWriter<T> : IDisposable where T : unmanaged
{
    private readonly long[] _rowShape;
    private readonly long _rowSize;
    private readonly ScalarType _type;
    private readonly long _capacity; // rows the tensor is allocated for (0: rows go to the managed buffer)
    private Tensor? _direct;
    private GrowableBuffer<T>? _managed;

    public DenseRowWriter(long[] rowShape, long capacity)
    {
        _rowShape = rowShape;
        _rowSize = rowShape.Aggregate(1L, (a, b) => a * b);
        _type = typeof(T) == typeof(byte) ? ScalarType.Byte : typeof(T) == typeof(float) ? ScalarType.Float32
            : throw new NotSupportedException($"Dense rows of {typeof(T).Name}.");
        _capacity = capacity > 0 && capacity * _rowSize <= Array.MaxLength ? capacity : 0;
    }

    /// <summary>Rows written.</summary>
    public long Rows { get; private set; }

    public void Add(ReadOnlySpan<T> row)
    {
        if (row.Length != _rowSize) throw new InvalidDataException($"A row of {row.Length} values in a set of {_rowSize}-value rows.");
        if (_managed is null && _capacity > 0)
        {
            if (Rows < _capacity)
            {
                _direct ??= empty(Shape(_capacity), _type); // allocated at the first row, so an unused writer costs nothing
                row.CopyTo(Memory(_direct)[(int)(Rows * _rowSize)..]);
                Rows++;
                return;
            }
            // More rows than announced: continue in managed memory.
            _managed = new GrowableBuffer<T>(_capacity * 2 * _rowSize);
            _managed.Append(Memory(_direct!)[..(int)(Rows * _rowSize)]);
            _direct!.Dispose();
            _direct = null;
        }
        _managed ??= new GrowableBuffer<T>(16 * _rowSize);
        _managed.Append(row);
        Rows++;
    }

    /// <summary>The rows as one [rows, ...shape] CPU tensor; the writer is empty afterwards (ready for the next rows).</summary>
    public Tensor Finish()
    {
        Tensor result;
        if (_direct is not null)
        {
            // Fewer rows than allocated: a view of the first ones (it keeps the storage alive).
            result = Rows == _capacity ? _direct : _direct.narrow(0, 0, Rows);
            if (!ReferenceEquals(result, _direct)) _direct.Dispose();
            _direct = null;
        }
        else
        {
            result = empty(Shape(Rows), _type);
            if (_managed is not null) _managed.AsSpan().CopyTo(Memory(result));
            _managed = null;
        }
        Rows = 0;
        return result;
    }

    private long[] Shape(long rows) => new[] { rows }.Concat(_rowShape).ToArray();

    private static Span<T> Memory(Tensor t) => MemoryMarshal.Cast<byte, T>(t.bytes);

    public void Dispose() => _direct?.Dispose();
}

/// <summary>
/// Gathers rows (their features and their row numbers in the set) into one <see cref="Batch"/>: fixed-shape rows
/// straight into a tensor (float32 or uint8), variable-size rows through the layout's collation. Labels and weights
/// come from the set's <see cref="LabelTable"/> by row number.
/// </summary>
internal sealed class BatchBuilder<T> : IDisposable where T : unmanaged
{
    private readonly FeatureLayout _layout;
    private readonly LabelTable _labels;
    private readonly long _capacity;
    private readonly DenseRowWriter<T>? _dense;
    private readonly GrowableFloats? _values;
    private readonly List<int> _lengths = new();
    private readonly List<long> _rows = new();

    public BatchBuilder(FeatureLayout layout, long[]? rowShape, long capacity, LabelTable labels)
    {
        _layout = layout;
        _labels = labels;
        _capacity = capacity;
        if (rowShape is not null) _dense = new DenseRowWriter<T>(rowShape, capacity);
        else if (typeof(T) == typeof(float)) _values = new GrowableFloats(1 << 16);
        else throw new NotSupportedException("Variable-size rows are read as floats.");
    }

    public int Rows => _rows.Count;
    public bool Full => _rows.Count >= _capacity;

    /// <summary>Adds row <paramref name="row"/> (its number in the set) with its features.</summary>
    public void Add(long row, ReadOnlySpan<T> features)
    {
        if (_dense is not null) _dense.Add(features);
        else
        {
            _values!.Append(MemoryMarshal.Cast<T, float>(features));
            _lengths.Add(features.Length);
        }
        _rows.Add(row);
    }

    /// <summary>The gathered rows as a batch of CPU features and labels on the labels' device; the builder is empty afterwards.</summary>
    public Batch Build()
    {
        (Tensor features, Tensor? lengths) = _dense is not null ? (_dense.Finish(), null)
            : _layout.Collate(_values!.AsSpan(), CollectionsMarshal.AsSpan(_lengths));
        using var idx = tensor(_rows.ToArray(), device: _labels.Labels.device);
        var (labels, weights) = _labels.Take(idx, 0, _rows.Count);
        var batch = new Batch(features, lengths, labels, weights, _rows.Count);
        _values?.Clear();
        _lengths.Clear();
        _rows.Clear();
        return batch;
    }

    public void Dispose() => _dense?.Dispose();
}
