using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetDeep.Datasets;

/// <summary>
/// An in-memory IDataView over whole columns: Single columns from float arrays and String columns from string arrays
/// (null = empty text). For data sets whose columns are only known when the file is read.
/// </summary>
internal sealed class ColumnarDataView : IDataView
{
    private readonly Array[] _columns;
    private readonly long _rows;

    public ColumnarDataView(IReadOnlyList<(string Name, float[]? Numbers, string?[]? Texts)> columns)
    {
        var builder = new DataViewSchema.Builder();
        _columns = new Array[columns.Count];
        for (int i = 0; i < columns.Count; i++)
        {
            var (name, numbers, texts) = columns[i];
            if (numbers is not null) builder.AddColumn(name, NumberDataViewType.Single);
            else builder.AddColumn(name, TextDataViewType.Instance);
            _columns[i] = (Array?)numbers ?? texts!.Select(t => (t ?? "").AsMemory()).ToArray();
        }
        Schema = builder.ToSchema();
        _rows = _columns.Length == 0 ? 0 : _columns[0].Length;
        if (_columns.Any(c => c.Length != _rows)) throw new ArgumentException("Every column must have the same number of rows.", nameof(columns));
    }

    public bool CanShuffle => true;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => _rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        long[]? order = null;
        if (rand is not null)
        {
            order = Enumerable.Range(0, (int)_rows).Select(i => (long)i).ToArray();
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = rand.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        return new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet(), order);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ColumnarDataView _view;
        private readonly HashSet<int> _active;
        private readonly long[]? _order;
        private long _position = -1;

        public Cursor(ColumnarDataView view, HashSet<int> active, long[]? order) => (_view, _active, _order) = (view, active, order);

        public override DataViewSchema Schema => _view.Schema;
        public override long Position => _position;
        public override long Batch => 0;

        private long Row => _order is null ? _position : _order[_position];

        public override bool MoveNext()
        {
            if (_position + 1 >= _view._rows) return false;
            _position++;
            return true;
        }

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column)) throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
            if (_view._columns[column.Index] is not TValue[] values)
                throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}, not {typeof(TValue).Name}.");
            return (ref TValue value) => value = values[Row];
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)Row, 0);
    }
}
