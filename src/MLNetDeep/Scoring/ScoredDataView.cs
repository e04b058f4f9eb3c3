using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;

namespace MLNetDeep.Scoring;

/// <summary>
/// The lazily scored output of <see cref="DeepTransformer.Transform"/>. Input columns pass through; output
/// columns are computed a batch at a time by a second, look-ahead cursor over the feature column that runs
/// in step with the main cursor (IDataView cursors without shuffling see rows in the same order).
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
        var cursor = _input.GetRowCursor(inputCols);
        var lookahead = scoring ? _input.GetRowCursor(new[] { _feature }) : null;
        return new Cursor(this, cursor, lookahead, needed.Select(c => c.Index).ToHashSet());
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ScoredDataView _parent;
        private readonly DataViewRowCursor _input;
        private readonly DataViewRowCursor? _lookahead;
        private readonly FeatureColumnReader? _reader;
        private readonly HashSet<int> _active;
        private readonly int _batchSize;
        private readonly List<int> _rowOffsets = new() { 0 }; // row i's outputs: _outputs[_rowOffsets[i].._rowOffsets[i + 1]]
        private float[] _outputs = Array.Empty<float>();
        private long _batchStart;
        private int _batchCount;
        private long _lookaheadRows;
        private readonly GrowableFloats _values = new(1 << 16);
        private readonly List<int> _lengths = new();

        public Cursor(ScoredDataView parent, DataViewRowCursor input, DataViewRowCursor? lookahead, HashSet<int> active)
        {
            _parent = parent;
            _input = input;
            _lookahead = lookahead;
            _active = active;
            _batchSize = Math.Max(1, parent._model.ScoringBatchSize);
            if (lookahead is not null) _reader = new FeatureColumnReader(lookahead, parent._feature);
        }

        public override DataViewSchema Schema => _parent.Schema;
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override bool MoveNext() => _input.MoveNext();
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int nInput = _input.Schema.Count;
            if (column.Index < nInput) return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            if (_lookahead is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
            var getter = _parent._model.Head.MakeGetter(_parent._model.Spec, column.Name, CurrentOutputs);
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
                $"Column '{column.Name}' has type {column.Type}; it can't be read as {typeof(TValue).Name}.");
        }

        private ReadOnlyMemory<float> CurrentOutputs()
        {
            long p = _input.Position;
            if (p < 0) throw new InvalidOperationException("The cursor is not on a row; call MoveNext first.");
            while (p >= _batchStart + _batchCount) ScoreNextBatch();
            int i = (int)(p - _batchStart);
            return _outputs.AsMemory(_rowOffsets[i], _rowOffsets[i + 1] - _rowOffsets[i]);
        }

        private void ScoreNextBatch()
        {
            _batchStart = _lookaheadRows;
            _values.Clear();
            _lengths.Clear();
            _rowOffsets.RemoveRange(1, _rowOffsets.Count - 1);
            var name = _parent._feature.Name;
            var layout = _parent._model.Layout;
            while (_lengths.Count < _batchSize && _lookahead!.MoveNext())
            {
                var row = _reader!.Read();
                layout.ValidateRow(name, _lookaheadRows, row);
                _values.Append(row);
                _lengths.Add(row.Length);
                _rowOffsets.Add(_rowOffsets[^1] + _parent._model.RowOutputSize(row.Length));
                _lookaheadRows++;
            }
            _batchCount = _lengths.Count;
            if (_batchCount == 0)
                throw new InvalidOperationException("The input data returned fewer rows to the scoring cursor than to the main cursor.");
            int total = _rowOffsets[^1];
            if (_outputs.Length < total) _outputs = new float[total];
            _parent._model.Score(_values.AsSpan(), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_lengths), _outputs.AsSpan(0, total));
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _input.Dispose();
                _lookahead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
