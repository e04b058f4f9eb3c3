using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetDeep.Scoring;

/// <summary>
/// One input column's values for the rows of a batch that the scoring cursor has read ahead. Values are copied (vectors
/// into buffers of their own), so the consumer's reads never see another row's data or share arrays with the cache.
/// </summary>
internal abstract class RowCache
{
    /// <summary>Reads the input cursor's current row's value into <paramref name="slot"/>.</summary>
    public abstract void Read(int slot);

    /// <summary>A getter of the cached value of the slot <paramref name="slot"/> returns.</summary>
    public abstract ValueGetter<TValue> Getter<TValue>(Func<int> slot, DataViewSchema.Column column);

    protected static InvalidOperationException WrongType(DataViewSchema.Column column, Type requested, Type actual) => new(
        $"Column '{column.Name}' has type {column.Type}; it can't be read as {requested.Name} (its values are {actual.Name}).");

    /// <summary>The cache for a column of any type ML.NET's loaders and transforms produce (numbers, Boolean, text, keys, dates, row ids, and vectors of them).</summary>
    public static RowCache For(DataViewRow row, DataViewSchema.Column column, int capacity)
    {
        if (column.Type is VectorDataViewType vector)
        {
            var t = vector.ItemType.RawType;
            return t == typeof(float) ? new VectorCache<float>(row, column, capacity)
                : t == typeof(double) ? new VectorCache<double>(row, column, capacity)
                : t == typeof(uint) ? new VectorCache<uint>(row, column, capacity)
                : t == typeof(int) ? new VectorCache<int>(row, column, capacity)
                : t == typeof(long) ? new VectorCache<long>(row, column, capacity)
                : t == typeof(ulong) ? new VectorCache<ulong>(row, column, capacity)
                : t == typeof(short) ? new VectorCache<short>(row, column, capacity)
                : t == typeof(ushort) ? new VectorCache<ushort>(row, column, capacity)
                : t == typeof(byte) ? new VectorCache<byte>(row, column, capacity)
                : t == typeof(sbyte) ? new VectorCache<sbyte>(row, column, capacity)
                : t == typeof(bool) ? new VectorCache<bool>(row, column, capacity)
                : t == typeof(ReadOnlyMemory<char>) ? new VectorCache<ReadOnlyMemory<char>>(row, column, capacity)
                : t == typeof(DateTime) ? new VectorCache<DateTime>(row, column, capacity)
                : t == typeof(DateTimeOffset) ? new VectorCache<DateTimeOffset>(row, column, capacity)
                : t == typeof(TimeSpan) ? new VectorCache<TimeSpan>(row, column, capacity)
                : MLNetInternals.GenericRowCache.Create(row, column, capacity);
        }
        var s = column.Type.RawType;
        return s == typeof(float) ? new ScalarCache<float>(row, column, capacity)
            : s == typeof(double) ? new ScalarCache<double>(row, column, capacity)
            : s == typeof(uint) ? new ScalarCache<uint>(row, column, capacity)
            : s == typeof(int) ? new ScalarCache<int>(row, column, capacity)
            : s == typeof(long) ? new ScalarCache<long>(row, column, capacity)
            : s == typeof(ulong) ? new ScalarCache<ulong>(row, column, capacity)
            : s == typeof(short) ? new ScalarCache<short>(row, column, capacity)
            : s == typeof(ushort) ? new ScalarCache<ushort>(row, column, capacity)
            : s == typeof(byte) ? new ScalarCache<byte>(row, column, capacity)
            : s == typeof(sbyte) ? new ScalarCache<sbyte>(row, column, capacity)
            : s == typeof(bool) ? new ScalarCache<bool>(row, column, capacity)
            : s == typeof(ReadOnlyMemory<char>) ? new TextCache(row, column, capacity)
            : s == typeof(DateTime) ? new ScalarCache<DateTime>(row, column, capacity)
            : s == typeof(DateTimeOffset) ? new ScalarCache<DateTimeOffset>(row, column, capacity)
            : s == typeof(TimeSpan) ? new ScalarCache<TimeSpan>(row, column, capacity)
            : s == typeof(DataViewRowId) ? new ScalarCache<DataViewRowId>(row, column, capacity)
            : MLNetInternals.GenericRowCache.Create(row, column, capacity);
    }
}

/// <summary>A scalar column (values are copied by assignment).</summary>
internal class ScalarCache<T> : RowCache
{
    private readonly ValueGetter<T> _source;
    private readonly T[] _values;

    public ScalarCache(DataViewRow row, DataViewSchema.Column column, int capacity) : this(row.GetGetter<T>(column), capacity) { }

    public ScalarCache(ValueGetter<T> source, int capacity)
    {
        _source = source;
        _values = new T[capacity];
    }

    public override void Read(int slot)
    {
        T value = default!;
        _source(ref value);
        _values[slot] = Own(value);
    }

    /// <summary>A copy of the value that no later read can change.</summary>
    protected virtual T Own(T value) => value;

    public void Get(int slot, ref T value) => value = _values[slot];

    public override ValueGetter<TValue> Getter<TValue>(Func<int> slot, DataViewSchema.Column column) =>
        this is ScalarCache<TValue> typed
            ? (ref TValue value) => typed.Get(slot(), ref value)
            : throw WrongType(column, typeof(TValue), typeof(T));
}

/// <summary>Text: the characters are copied (a source may reuse its buffer for the next row).</summary>
internal sealed class TextCache : ScalarCache<ReadOnlyMemory<char>>
{
    public TextCache(DataViewRow row, DataViewSchema.Column column, int capacity) : base(row, column, capacity) { }
    protected override ReadOnlyMemory<char> Own(ReadOnlyMemory<char> value) => value.ToArray();
}

/// <summary>A vector column: each row's values go into a buffer of their own and are copied out on every read.</summary>
internal sealed class VectorCache<T> : RowCache
{
    private readonly ValueGetter<VBuffer<T>> _source;
    private readonly VBuffer<T>[] _values;
    private VBuffer<T> _scratch;

    public VectorCache(DataViewRow row, DataViewSchema.Column column, int capacity)
    {
        _source = row.GetGetter<VBuffer<T>>(column);
        _values = new VBuffer<T>[capacity];
    }

    public override void Read(int slot)
    {
        _source(ref _scratch);
        _scratch.CopyTo(ref _values[slot]); // reuses the slot's own arrays from earlier batches
    }

    public override ValueGetter<TValue> Getter<TValue>(Func<int> slot, DataViewSchema.Column column)
    {
        if (typeof(TValue) != typeof(VBuffer<T>)) throw WrongType(column, typeof(TValue), typeof(VBuffer<T>));
        ValueGetter<VBuffer<T>> getter = (ref VBuffer<T> value) => _values[slot()].CopyTo(ref value);
        return (ValueGetter<TValue>)(Delegate)getter;
    }
}
