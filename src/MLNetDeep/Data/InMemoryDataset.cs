using Microsoft.ML;
using MLNetDeep.Training;
using TorchSharp;
using static TorchSharp.torch;
using MLNetDeep.Tasks;

namespace MLNetDeep.Data;

/// <summary>One mini-batch on the training device.</summary>
internal readonly record struct Batch(Tensor Features, Tensor? Lengths, Tensor Labels, Tensor? Weights, long Count);

/// <summary>How one run cuts its training rows into batches: size, and a per-epoch seeded shuffle.</summary>
internal sealed record BatchPlan(long BatchSize, bool Shuffle, int Seed)
{
    /// <summary>The shuffle of one epoch comes from (seed, epoch) alone, so a resumed run shuffles as an uninterrupted one.</summary>
    public Random EpochRandom(int epoch) => new(unchecked(Seed * 1_000_003 + epoch));
}

/// <summary>The rows a training run reads: the training set each epoch, the validation set after it.</summary>
internal interface ITrainingData : IDisposable
{
    /// <summary>Rows.</summary>
    long Count { get; }
    /// <summary>The task spec derived from the training labels (classes, label scaling).</summary>
    HeadSpec Spec { get; }
    /// <summary>One label per row, or (per-step heads) every row's step labels laid end to end.</summary>
    float[] RawLabels { get; }
    /// <summary>Feature values in the longest row.</summary>
    long LongestRow { get; }
    /// <summary>Batches of one training epoch (1-based), shuffled as the plan says.</summary>
    IEnumerable<Batch> Epoch(int epoch, BatchPlan plan);
    /// <summary>Every row in order, in batches of at most <paramref name="chunk"/> rows.</summary>
    IEnumerable<Batch> InOrder(long chunk);
}

/// <summary>
/// A data set read once from an IDataView with a cursor and kept as tensors, so every epoch batches by
/// index_select (one copy per batch, no per-element work). Labels are read and checked on the way in.
/// </summary>
internal sealed class InMemoryDataset : ITrainingData
{
    private readonly FeatureLayout _layout;
    private readonly Tensor? _dense;          // [N, ...shape] for fixed-size layouts
    private readonly float[]? _values;        // variable-size rows laid end to end
    private readonly long[]? _offsets;        // N + 1 offsets into _values
    private readonly Tensor _labels;
    private readonly Tensor? _weights;
    private readonly long[]? _labelOffsets;  // per-step labels: N + 1 offsets into RawLabels

    public long Count { get; }
    /// <summary>Feature values in the longest row.</summary>
    public long LongestRow => _dense is not null
        ? _dense.shape.Skip(1).Aggregate(1L, (a, b) => a * b)
        : Enumerable.Range(0, (int)Count).Select(i => _offsets![i + 1] - _offsets[i]).DefaultIfEmpty(0).Max();
    /// <summary>One label per row, or (per-step heads) every row's step labels laid end to end.</summary>
    public float[] RawLabels { get; }
    public HeadSpec Spec { get; }

    private InMemoryDataset(FeatureLayout layout, Tensor? dense, float[]? values, long[]? offsets, float[] rawLabels,
        Tensor labels, Tensor? weights, long count, HeadSpec spec, long[]? labelOffsets = null)
    {
        _layout = layout; _dense = dense; _values = values; _offsets = offsets;
        RawLabels = rawLabels; _labels = labels; _weights = weights; Count = count; Spec = spec; _labelOffsets = labelOffsets;
    }

    /// <summary>Reads features, labels and weights, checking every value.</summary>
    public static InMemoryDataset Load(IDataView data, string role, FeatureLayout layout, string featureColumn,
        TaskHead head, string labelColumn, string? weightColumn, HeadSpec? spec, string[] classNames, Device device, OutputColumnNames? columns = null)
    {
        var schema = data.Schema;
        var featureCol = schema[featureColumn];
        var labelCol = schema[labelColumn];
        DataViewSchema.Column? weightCol = weightColumn is null ? null : schema[weightColumn];
        var active = new List<DataViewSchema.Column> { featureCol, labelCol };
        if (weightCol is DataViewSchema.Column w) active.Add(w);

        // Fixed-size rows with a known row count go straight into one CPU tensor (no managed copy of the whole set);
        // otherwise rows are gathered in a managed buffer first, which also gives the clear error for a set larger
        // than one span can address.
        var rowShape = layout.DenseRowShape(featureCol.Type);
        long[] DenseShape(long rows) => new[] { rows }.Concat(rowShape!).ToArray();
        long rowSize = rowShape?.Aggregate(1L, (a, b) => a * b) ?? 0;
        long knownRows = data.GetRowCount() ?? 0;
        Tensor? direct = rowSize > 0 && knownRows > 0 && knownRows * rowSize <= Array.MaxLength
            ? empty(DenseShape(knownRows), ScalarType.Float32) : null;
        var directMemory = direct is null ? Span<float>.Empty : NativeBuffers.Floats(direct);
        var values = new GrowableFloats(direct is null && knownRows > 0 ? knownRows * Math.Max(1, rowSize > 0 ? rowSize : 16) : 1 << 16);
        var offsets = new List<long> { 0 };
        var labels = new List<float>();
        var labelOffsets = head.PerStepLabels ? new List<long> { 0 } : null;
        var weights = weightCol is null ? null : new List<float>();
        try
        {
            using (var cursor = data.GetRowCursor(active))
            {
                var features = new FeatureColumnReader(cursor, featureCol);
                var label = head.PerStepLabels ? null : head.LabelReader(cursor, labelCol);
                var stepLabels = head.PerStepLabels ? head.StepLabels(cursor, labelCol) : null;
                ValueGetter<float>? weightGetter = weightCol is DataViewSchema.Column wc ? cursor.GetGetter<float>(wc) : null;
                float weight = 1;
                long row = 0;
                while (cursor.MoveNext())
                {
                    var span = features.Read();
                    layout.ValidateRow(featureColumn, row, span);
                    if (direct is not null && (row >= knownRows || span.Length != rowSize))
                    {
                        // The source returned more rows than it announced (or a row of another size): gather in the managed buffer.
                        values.Append(directMemory[..(int)(row * rowSize)]);
                        directMemory = Span<float>.Empty;
                        direct.Dispose();
                        direct = null;
                    }
                    if (direct is not null) span.CopyTo(directMemory[(int)(row * rowSize)..]);
                    else values.Append(span);
                    offsets.Add(direct is not null ? (row + 1) * rowSize : values.Count);
                    if (stepLabels is not null)
                    {
                        var steps = stepLabels(row);
                        int expected = layout is ISequenceLayout seq ? seq.Steps(span.Length) : span.Length;
                        if (head.StepLabelsAlignWithFeatures && steps.Length != expected)
                            throw new InvalidDataException(
                                $"Label column '{labelColumn}', row {row}: {steps.Length} step labels, but feature column '{featureColumn}' has {expected} steps. " +
                                "A tagging label needs exactly one label per step; tokenize the tags and the text the same way.");
                        foreach (var s in steps) labels.Add(s);
                        labelOffsets!.Add(labels.Count);
                    }
                    else labels.Add(label!(row));
                    if (weightGetter is not null)
                    {
                        weightGetter(ref weight);
                        if (!(weight >= 0) || float.IsInfinity(weight))
                            throw new InvalidDataException($"Example-weight column '{weightColumn}', row {row}: value {weight}; weights must be finite and >= 0.");
                        weights!.Add(weight);
                    }
                    row++;
                }
            }
        }
        catch
        {
            direct?.Dispose(); // a bad row: the native buffer goes now, not at finalization
            throw;
        }
        if (offsets.Count == 1)
        {
            direct?.Dispose();
            throw new InvalidDataException($"The {role} data has no rows. Check the file path, the loader's column definitions or an earlier filter.");
        }
        if (weights is not null && weights.Sum() <= 0)
            throw new InvalidDataException($"Example-weight column '{weightColumn}' sums to 0 over the {role} data; at least one weight must be > 0.");

        var rawLabels = labels.ToArray();
        spec ??= head.Prepare(labelColumn, classNames, rawLabels).WithColumns(columns ?? new OutputColumnNames());
        var labelOffsetArray = labelOffsets?.ToArray();
        var labelTensor = (labelOffsetArray is null ? head.LabelTensor(spec, rawLabels) : head.StepLabelTensor(spec, rawLabels, labelOffsetArray)).to(device);
        var weightTensor = weights is null ? null : tensor(weights.ToArray()).to(device);
        long count = offsets.Count - 1;
        if (rowShape is not null)
        {
            var gathered = direct is null ? NativeBuffers.FromSpan(values.AsSpan(), DenseShape(count))
                : count == knownRows ? direct : direct.narrow(0, 0, count);
            var dense = gathered.to(device);
            if (!ReferenceEquals(dense, gathered)) gathered.Dispose();
            if (direct is not null && !ReferenceEquals(direct, gathered)) direct.Dispose(); // the narrowed view keeps the storage
            return new InMemoryDataset(layout, dense, null, null, rawLabels, labelTensor, weightTensor, count, spec, labelOffsetArray);
        }
        return new InMemoryDataset(layout, null, values.AsSpan().ToArray(), offsets.ToArray(), rawLabels, labelTensor, weightTensor, count, spec, labelOffsetArray);
    }

    /// <summary>Batches of one epoch. The caller opens a dispose scope around each MoveNext and the batch's use; the epoch's permutation lives outside them.</summary>
    public IEnumerable<Batch> Epoch(int epoch, BatchPlan plan)
    {
        long n = Count, batchSize = Math.Min(plan.BatchSize, n);
        using var perm = plan.Shuffle ? tensor(Permutation(n, plan.EpochRandom(epoch))).DetachFromDisposeScope() : null;
        for (long start = 0; start < n; start += batchSize)
        {
            long len = Math.Min(batchSize, n - start);
            yield return GetBatch(perm?.narrow(0, start, len), start, len);
        }
    }

    /// <inheritdoc />
    public IEnumerable<Batch> InOrder(long chunk)
    {
        for (long start = 0; start < Count; start += chunk)
            yield return GetBatch(null, start, Math.Min(chunk, Count - start));
    }

    /// <summary>The batch of the given row indices (null = all rows in order).</summary>
    public Batch GetBatch(Tensor? indices, long start = 0, long length = -1)
    {
        if (length < 0) length = Count - start;
        Tensor Take(Tensor t) => indices is null ? t.narrow(0, start, length) : t.index_select(0, indices);
        (Tensor features, Tensor? lengths) = _dense is not null
            ? (Take(_dense), null)
            : CollateVariable(indices, start, length);
        return new Batch(features, lengths, Take(_labels), _weights is null ? null : Take(_weights), length);
    }

    private (Tensor, Tensor?) CollateVariable(Tensor? indices, long start, long length)
    {
        long[] rows = indices is null ? Enumerable.Range(0, (int)length).Select(i => start + i).ToArray() : indices.data<long>().ToArray();
        int total = 0;
        var lengths = new int[rows.Length];
        for (int i = 0; i < rows.Length; i++) { lengths[i] = (int)(_offsets![rows[i] + 1] - _offsets[rows[i]]); total += lengths[i]; }
        var buffer = new float[total];
        int at = 0;
        foreach (var r in rows)
        {
            int len = (int)(_offsets![r + 1] - _offsets[r]);
            Array.Copy(_values!, _offsets[r], buffer, at, len);
            at += len;
        }
        return _layout.Collate(buffer, lengths);
    }

    /// <summary>Splits off a seeded random fraction of rows (for ValidationFraction).</summary>
    public (InMemoryDataset Train, InMemoryDataset Validation) Split(double validationFraction, Random rng)
    {
        long nVal = Math.Max(1, (long)Math.Round(Count * validationFraction));
        if (nVal >= Count)
            throw new ArgumentOutOfRangeException(nameof(TrainerOptions.ValidationFraction), validationFraction,
                $"ValidationFraction={validationFraction} leaves no training rows out of {Count}. Use a smaller fraction or more data.");
        var perm = Permutation(Count, rng);
        return (Subset(perm[(int)nVal..]), Subset(perm[..(int)nVal]));
    }

    private InMemoryDataset Subset(long[] rows)
    {
        using var idx = tensor(rows, device: _labels.device);
        float[] raw;
        long[]? labelOffsets = null;
        if (_labelOffsets is null) raw = rows.Select(r => RawLabels[r]).ToArray();
        else
        {
            var stepLabels = new List<float>();
            labelOffsets = new long[rows.Length + 1];
            for (int i = 0; i < rows.Length; i++)
            {
                stepLabels.AddRange(RawLabels.AsSpan((int)_labelOffsets[rows[i]], (int)(_labelOffsets[rows[i] + 1] - _labelOffsets[rows[i]])).ToArray());
                labelOffsets[i + 1] = stepLabels.Count;
            }
            raw = stepLabels.ToArray();
        }
        if (_dense is not null)
            return new InMemoryDataset(_layout, _dense.index_select(0, idx), null, null, raw, _labels.index_select(0, idx),
                _weights?.index_select(0, idx), rows.Length, Spec, labelOffsets);
        var values = new GrowableFloats(1 << 16);
        var offsets = new List<long> { 0 };
        foreach (var r in rows)
        {
            values.Append(_values.AsSpan((int)_offsets![r], (int)(_offsets[r + 1] - _offsets[r])));
            offsets.Add(values.Count);
        }
        return new InMemoryDataset(_layout, null, values.AsSpan().ToArray(), offsets.ToArray(), raw, _labels.index_select(0, idx),
            _weights?.index_select(0, idx), rows.Length, Spec, labelOffsets);
    }

    /// <summary>A seeded Fisher–Yates permutation of 0..n−1.</summary>
    public static long[] Permutation(long n, Random rng)
    {
        var p = new long[n];
        for (long i = 0; i < n; i++) p[i] = i;
        for (long i = n - 1; i > 0; i--)
        {
            long j = rng.NextInt64(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }

    public void Dispose()
    {
        _dense?.Dispose();
        _labels.Dispose();
        _weights?.Dispose();
    }
}

/// <summary>An append-only float buffer (avoids List&lt;float&gt; growth per element).</summary>
internal sealed class GrowableFloats
{
    private float[] _data;
    public long Count { get; private set; }

    public GrowableFloats(long capacity) => _data = new float[Math.Clamp(capacity, 16, Array.MaxLength)];

    public void Append(ReadOnlySpan<float> values)
    {
        if (Count + values.Length > _data.Length)
        {
            long size = Math.Max(Count + values.Length, (long)_data.Length * 2);
            if (size > Array.MaxLength)
                throw new InsufficientMemoryException($"The data set needs more than {Array.MaxLength} feature values in memory; train on a sample or a smaller image size.");
            Array.Resize(ref _data, (int)size);
        }
        values.CopyTo(_data.AsSpan((int)Count));
        Count += values.Length;
    }

    public ReadOnlySpan<float> AsSpan() => _data.AsSpan(0, (int)Count);

    public void Clear() => Count = 0;
}
