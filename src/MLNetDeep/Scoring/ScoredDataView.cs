using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;

namespace MLNetDeep.Scoring;

/// <summary>
/// The lazily scored output of <see cref="DeepTransformer.Transform"/>. It reads the input through the one cursor the
/// consumer opens: a batch of input rows is read ahead and kept (the active input columns' values and the features),
/// scored in one forward pass, and served in order. So every input row gives exactly one output row with its own score,
/// for any IDataView — also one that can be read only once or whose order changes between reads.
/// </summary>
internal sealed class ScoredDataView : IDataView
{
    private readonly DeepTransformer _model;
    private readonly IDataView _input;
    private readonly DataViewSchema.Column _feature;

    public ScoredDataView(DeepTransformer model, IDataView input)
    {
        _model = model;
        _input = input;
        _feature = model.FeatureColumn(input.Schema);
        Schema = model.GetOutputSchema(input.Schema);
    }

    public DataViewSchema Schema { get; }
    public bool CanShuffle => false;
    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        int nInput = _input.Schema.Count;
        var needed = columnsNeeded.ToList();
        bool scoring = needed.Any(c => c.Index >= nInput);
        var inputCols = needed.Where(c => c.Index < nInput).Select(c => _input.Schema[c.Index]).ToList();
        if (!scoring) return new PassThrough(this, _input.GetRowCursor(inputCols), needed.Select(c => c.Index).ToHashSet());
        if (!inputCols.Any(c => c.Index == _feature.Index)) inputCols.Add(_feature);
        return new Cursor(this, _input.GetRowCursor(inputCols), needed.Select(c => c.Index).ToHashSet());
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    /// <summary>No output column requested: the input rows as they are, nothing scored.</summary>
    private sealed class PassThrough : DataViewRowCursor
    {
        private readonly ScoredDataView _parent;
        private readonly DataViewRowCursor _input;
        private readonly HashSet<int> _active;

        public PassThrough(ScoredDataView parent, DataViewRowCursor input, HashSet<int> active) => (_parent, _input, _active) = (parent, input, active);

        public override DataViewSchema Schema => _parent.Schema;
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override bool MoveNext() => _input.MoveNext();
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index >= _input.Schema.Count || !_active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
            return _input.GetGetter<TValue>(_input.Schema[column.Index]);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _input.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>Reads a batch ahead from the one input cursor, scores it, and serves its rows in order.</summary>
    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ScoredDataView _parent;
        private readonly DataViewRowCursor _input;
        private readonly HashSet<int> _active;
        private readonly int _batchSize;
        private readonly FeatureColumnReader _reader;
        private readonly Dictionary<int, RowCache> _columns = new();
        private readonly ScalarCache<DataViewRowId> _ids;
        private readonly GrowableFloats _values = new(1 << 16);
        private readonly List<int> _lengths = new();
        private readonly List<int> _rowOffsets = new() { 0 }; // row i's outputs: _outputs[_rowOffsets[i].._rowOffsets[i + 1]]
        private float[] _outputs = Array.Empty<float>();
        private int _slot = -1, _filled;
        private long _position = -1, _inputRows;
        private bool _done;

        public Cursor(ScoredDataView parent, DataViewRowCursor input, HashSet<int> active)
        {
            _parent = parent;
            _input = input;
            _active = active;
            _batchSize = Math.Max(1, parent._model.ScoringBatchSize);
            _reader = new FeatureColumnReader(input, parent._feature);
            foreach (var column in input.Schema.Where(c => active.Contains(c.Index)))
                _columns[column.Index] = RowCache.For(input, column, _batchSize);
            _ids = new ScalarCache<DataViewRowId>(input.GetIdGetter(), _batchSize);
        }

        public override DataViewSchema Schema => _parent.Schema;
        public override long Position => _position;
        public override long Batch => 0;
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => _ids.Get(CurrentSlot(), ref id);

        public override bool MoveNext()
        {
            if (_done) return false;
            if (++_slot >= _filled && !ReadAndScoreBatch())
            {
                _done = true;
                _position = -1;
                return false;
            }
            _position++;
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
            if (column.Index < _input.Schema.Count)
                return _columns[column.Index].Getter<TValue>(CurrentSlot, column);
            var getter = _parent._model.OutputGetter(column, CurrentOutputs);
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
                $"Column '{column.Name}' has type {column.Type}; it can't be read as {typeof(TValue).Name}.");
        }

        private int CurrentSlot() =>
            _position < 0 ? throw new InvalidOperationException("The cursor is not on a row; call MoveNext first.") : _slot;

        private ReadOnlyMemory<float> CurrentOutputs()
        {
            int i = CurrentSlot();
            return _outputs.AsMemory(_rowOffsets[i], _rowOffsets[i + 1] - _rowOffsets[i]);
        }

        /// <summary>Reads up to a batch of input rows (keeping their values), scores them; false when the input is exhausted.</summary>
        private bool ReadAndScoreBatch()
        {
            _values.Clear();
            _lengths.Clear();
            _rowOffsets.RemoveRange(1, _rowOffsets.Count - 1);
            var name = _parent._feature.Name;
            var model = _parent._model;
            int n = 0;
            while (n < _batchSize && _input.MoveNext())
            {
                var row = _reader.Read();
                model.Layout.ValidateRow(name, _inputRows, row);
                _values.Append(row);
                _lengths.Add(row.Length);
                _rowOffsets.Add(_rowOffsets[^1] + model.RowOutputSize(row.Length));
                foreach (var cache in _columns.Values) cache.Read(n);
                _ids.Read(n);
                _inputRows++;
                n++;
            }
            _filled = n;
            _slot = 0;
            if (n == 0) return false;
            int total = _rowOffsets[^1];
            if (_outputs.Length < total) _outputs = new float[total];
            model.Score(_values.AsSpan(), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_lengths), _outputs.AsSpan(0, total));
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _input.Dispose();
            base.Dispose(disposing);
        }
    }
}
