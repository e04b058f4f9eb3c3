using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;

namespace MLNetDeep.Scoring;

/// <summary>Row-by-row scoring for PredictionEngine: outputs are computed once per input row position and cached.</summary>
internal sealed class DeepRowMapper : IRowToRowMapper
{
    private readonly DeepTransformer _model;
    private readonly DataViewSchema.Column _feature;

    public DeepRowMapper(DeepTransformer model, DataViewSchema inputSchema)
    {
        _model = model;
        InputSchema = inputSchema;
        _feature = model.FeatureColumn(inputSchema);
        OutputSchema = model.GetOutputSchema(inputSchema);
    }

    public DataViewSchema InputSchema { get; }
    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        int nInput = InputSchema.Count;
        var cols = dependingColumns.ToList();
        var result = cols.Where(c => c.Index < nInput).Select(c => InputSchema[c.Index]).ToList();
        if (cols.Any(c => c.Index >= nInput) && result.All(c => c.Index != _feature.Index)) result.Add(_feature);
        return result;
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class Row : DataViewRow
    {
        private readonly DeepRowMapper _parent;
        private readonly DataViewRow _input;
        private readonly HashSet<int> _active;
        private float[] _outputs;
        private FeatureColumnReader? _reader;
        private long _cachedPosition = -1;

        public Row(DeepRowMapper parent, DataViewRow input, HashSet<int> active)
        {
            _parent = parent;
            _input = input;
            _active = active;
            _outputs = new float[parent._model.Spec.OutputSize];
        }

        public override DataViewSchema Schema => _parent.OutputSchema;
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _parent.InputSchema.Count) return _input.GetGetter<TValue>(_parent.InputSchema[column.Index]);
            var getter = _parent._model.OutputGetter(column, Current);
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
                $"Column '{column.Name}' has type {column.Type}; it can't be read as {typeof(TValue).Name}.");
        }

        private ReadOnlyMemory<float> Current()
        {
            if (_cachedPosition != _input.Position || _input.Position < 0)
            {
                _reader ??= new FeatureColumnReader(_input, _parent._feature);
                var values = _reader.Read();
                _parent._model.Layout.ValidateRow(_parent._feature.Name, _input.Position, values);
                int size = _parent._model.RowOutputSize(values.Length);
                if (_outputs.Length != size) _outputs = new float[size];
                _parent._model.Score(values, stackalloc int[] { values.Length }, _outputs);
                _cachedPosition = _input.Position;
            }
            return _outputs;
        }
    }
}
