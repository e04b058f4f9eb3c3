using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetDeep.Models.Backbones;

/// <summary>
/// The training (or validation) rows a backbone phase reads: the source rows, optionally only those a mask keeps
/// (the seeded validation split), with the feature column optionally replaced by precomputed values per source row
/// (the frozen blocks' outputs). Every other column — labels with their key values, weights — comes from the source.
/// </summary>
internal sealed class FeatureRowsView : IDataView
{
    private readonly IDataView _source;
    private readonly bool[]? _keep;
    private readonly int _featureIndex;
    private readonly float[][]? _features;
    private readonly long _count;

    /// <param name="source">The rows.</param>
    /// <param name="featureColumn">The feature column to replace.</param>
    /// <param name="keep">Which source rows (by position) to give; null = all.</param>
    /// <param name="features">The replacement values per source row (all of one size); null = the source's own.</param>
    public FeatureRowsView(IDataView source, string featureColumn, bool[]? keep, float[][]? features)
    {
        _source = source;
        _keep = keep;
        _features = features;
        _featureIndex = source.Schema[featureColumn].Index;
        _count = keep?.Count(k => k) ?? source.GetRowCount() ?? features?.Length ?? -1;
        var builder = new DataViewSchema.Builder();
        foreach (var c in source.Schema)
        {
            if (c.Index == _featureIndex && features is not null)
                builder.AddColumn(c.Name, new VectorDataViewType(NumberDataViewType.Single, features.Length > 0 ? features[0].Length : 1));
            else builder.AddColumn(c.Name, c.Type, c.Annotations);
        }
        Schema = builder.ToSchema();
    }

    public DataViewSchema Schema { get; }
    public bool CanShuffle => false;
    public long? GetRowCount() => _count >= 0 ? _count : null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
        var sourceColumns = _source.Schema.Where(c => needed.Contains(c.Index) && !(c.Index == _featureIndex && _features is not null));
        return new Cursor(this, _source.GetRowCursor(sourceColumns), needed);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly FeatureRowsView _view;
        private readonly DataViewRowCursor _inner;
        private readonly HashSet<int> _active;
        private long _position = -1, _sourceRow = -1;

        public Cursor(FeatureRowsView view, DataViewRowCursor inner, HashSet<int> active)
        {
            _view = view;
            _inner = inner;
            _active = active;
        }

        public override DataViewSchema Schema => _view.Schema;
        public override long Position => _position;
        public override long Batch => 0;

        public override bool MoveNext()
        {
            while (_inner.MoveNext())
            {
                _sourceRow++;
                if (_view._keep is not null && (_sourceRow >= _view._keep.Length || !_view._keep[_sourceRow])) continue;
                if (_view._features is not null && _sourceRow >= _view._features.Length)
                    throw new InvalidOperationException($"The data gave more rows ({_sourceRow + 1}) than when its frozen-block outputs were computed ({_view._features.Length}).");
                _position++;
                return true;
            }
            return false;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => _inner.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != _view._featureIndex || _view._features is null)
                return _inner.GetGetter<TValue>(_inner.Schema[column.Index]);
            if (typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Column '{column.Name}' holds VBuffer<Single> values; asked for {typeof(TValue).Name}.");
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                var row = _view._features[_sourceRow];
                var editor = VBufferEditor.Create(ref value, row.Length);
                row.CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
