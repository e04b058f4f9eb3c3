namespace MLNetDeep.Data;

/// <summary>
/// The seeded shuffle of a stream of rows that can't be read by index (tf.data's <c>shuffle(buffer_size)</c>): the
/// first <c>capacity</c> rows fill the buffer; then each new row replaces a resident row drawn at random, which goes
/// out; at the end the residents go out in a random order. With a capacity of at least the row count this is a
/// uniform permutation; with less, a row leaves at most a few buffer lengths from where it came in, so rows sorted
/// by class need a buffer as large as a class's run (or a source shuffled once beforehand).
/// </summary>
/// <remarks>
/// Fixed-size rows live in one block of <c>capacity × rowSize</c> values, so the buffer's memory is set when it is
/// made and does not grow; variable-size rows are kept one array each.
/// </remarks>
internal sealed class ShuffleBuffer<T> where T : unmanaged
{
    private readonly int _capacity;
    private readonly long _rowSize;      // 0 = variable-size rows
    private readonly T[]? _block;        // fixed-size rows: slot i at [i * rowSize, (i + 1) * rowSize)
    private readonly T[][]? _varRows;
    private readonly long[] _rowIds;
    private readonly Random _rng;
    private int _count;

    public ShuffleBuffer(int capacity, long rowSize, Random rng, T[]? block = null)
    {
        _capacity = capacity;
        _rowSize = rowSize;
        _rng = rng;
        _rowIds = new long[capacity];
        if (rowSize > 0) _block = block is not null && block.LongLength >= capacity * rowSize ? block : new T[checked(capacity * rowSize)];
        else _varRows = new T[capacity][];
    }

    /// <summary>The fixed-size rows' block (handed to the next epoch's buffer, so epochs reuse one allocation).</summary>
    public T[]? Block => _block;

    /// <summary>
    /// Takes row <paramref name="id"/>; once the buffer is full, first hands a resident row drawn at random to
    /// <paramref name="output"/> and puts the new row in its place.
    /// </summary>
    public void Add(long id, ReadOnlySpan<T> row, BatchBuilder<T> output)
    {
        int slot;
        if (_count < _capacity) slot = _count++;
        else
        {
            slot = _rng.Next(_capacity);
            output.Add(_rowIds[slot], Row(slot));
        }
        _rowIds[slot] = id;
        if (_block is not null) row.CopyTo(_block.AsSpan((int)(slot * _rowSize), (int)_rowSize));
        else
        {
            var stored = _varRows![slot];
            if (stored is null || stored.Length != row.Length) _varRows[slot] = stored = new T[row.Length];
            row.CopyTo(stored);
        }
    }

    /// <summary>The end of the stream: hands one resident row, drawn at random, to <paramref name="output"/>; false when none is left.</summary>
    public bool EmitOne(BatchBuilder<T> output)
    {
        if (_count == 0) return false;
        int slot = _rng.Next(_count);
        output.Add(_rowIds[slot], Row(slot));
        int last = --_count;
        if (slot != last) Move(last, slot);
        return true;
    }

    private ReadOnlySpan<T> Row(int slot) => _block is not null ? _block.AsSpan((int)(slot * _rowSize), (int)_rowSize) : _varRows![slot];

    private void Move(int from, int to)
    {
        _rowIds[to] = _rowIds[from];
        if (_block is not null) Row(from).CopyTo(_block.AsSpan((int)(to * _rowSize), (int)_rowSize));
        else (_varRows![to], _varRows[from]) = (_varRows[from], _varRows[to]);
    }
}
