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
/// index_select (one copy per batch, no per-element work). Byte features stay bytes (a uint8 tensor, a quarter of the
/// memory of floats); <see cref="PreparedData"/> turns each batch into floats. Labels are read and checked on the way in.
/// </summary>
internal sealed class InMemoryDataset : ITrainingData
{
    private readonly FeatureLayout _layout;
    private readonly Tensor? _dense;          // [N, ...shape] (float32, or uint8 for Byte columns) for fixed-size layouts
    private readonly float[]? _values;        // variable-size rows laid end to end
    private readonly long[]? _offsets;        // N + 1 offsets into _values
    private readonly LabelTable _labels;

    public long Count => _labels.Count;
    /// <summary>Feature values in the longest row.</summary>
    public long LongestRow => _dense is not null
        ? _dense.shape.Skip(1).Aggregate(1L, (a, b) => a * b)
        : Enumerable.Range(0, (int)Count).Select(i => _offsets![i + 1] - _offsets[i]).DefaultIfEmpty(0).Max();
    /// <summary>One label per row, or (per-step heads) every row's step labels laid end to end.</summary>
    public float[] RawLabels => _labels.RawLabels;
    public HeadSpec Spec => _labels.Spec;
    /// <summary>Bytes the features take in memory (the float32 or uint8 tensor, or the variable-size rows' floats).</summary>
    public long FeatureBytes => _dense is not null ? _dense.NumberOfElements * _dense.ElementSize : _values!.LongLength * sizeof(float);

    private InMemoryDataset(FeatureLayout layout, Tensor? dense, float[]? values, long[]? offsets, LabelTable labels)
    {
        _layout = layout; _dense = dense; _values = values; _offsets = offsets; _labels = labels;
    }

    /// <summary>Reads features, labels and weights, checking every value.</summary>
    public static InMemoryDataset Load(IDataView data, string role, DataColumns c, HeadSpec? spec, string[] classNames, Device device,
        OutputColumnNames? columns = null)
    {
        var schema = data.Schema;
        // Fixed-size rows go straight into one CPU tensor (no managed copy of the whole set) when the row count is known;
        // otherwise rows are gathered in a managed buffer first, which also gives the clear error for a set larger than
        // one span can address.
        var rowShape = c.Layout.DenseRowShape(schema[c.Feature].Type);
        bool bytes = c.StoresBytes(schema);
        long rowSize = rowShape?.Aggregate(1L, (a, b) => a * b) ?? 0;
        long knownRows = data.GetRowCount() ?? 0;
        using var floatRows = rowShape is not null && !bytes ? new DenseRowWriter<float>(rowShape, knownRows) : null;
        using var byteRows = bytes ? new DenseRowWriter<byte>(rowShape!, knownRows) : null;
        var values = rowShape is null ? new GrowableFloats(knownRows > 0 ? knownRows * 16 : 1 << 16) : null;
        var offsets = rowShape is null ? new List<long> { 0 } : null;
        LabelColumns labels;
        using (var cursor = data.GetRowCursor(c.Active(schema, features: true, labels: true)))
        {
            var features = new FeatureRowReader(cursor, c, bytes, rowSize);
            labels = new LabelColumns(cursor, c);
            long row = 0;
            while (cursor.MoveNext())
            {
                int length;
                if (byteRows is not null)
                {
                    var span = features.Bytes(row);
                    byteRows.Add(span);
                    length = span.Length;
                }
                else
                {
                    var span = features.Floats(row);
                    if (floatRows is not null) floatRows.Add(span);
                    else
                    {
                        values!.Append(span);
                        offsets!.Add(values.Count);
                    }
                    length = span.Length;
                }
                labels.Read(row, length);
                row++;
            }
        }
        var table = labels.Finish(role, spec, classNames, columns, device);
        if (rowShape is null) return new InMemoryDataset(c.Layout, null, values!.AsSpan().ToArray(), offsets!.ToArray(), table);
        var gathered = byteRows?.Finish() ?? floatRows!.Finish();
        var dense = gathered.to(device);
        if (!ReferenceEquals(dense, gathered)) gathered.Dispose();
        return new InMemoryDataset(c.Layout, dense, null, null, table);
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

    /// <summary>The batch of the given row indices (null = rows start..start+length in order); features as stored (uint8 for Byte columns).</summary>
    public Batch GetBatch(Tensor? indices, long start = 0, long length = -1)
    {
        if (length < 0) length = Count - start;
        (Tensor features, Tensor? lengths) = _dense is not null
            ? (indices is null ? _dense.narrow(0, start, length) : _dense.index_select(0, indices), null)
            : CollateVariable(indices, start, length);
        var (labels, weights) = _labels.Take(indices, start, length);
        return new Batch(features, lengths, labels, weights, length);
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
        var labels = _labels.Subset(rows);
        if (_dense is not null)
        {
            using var idx = tensor(rows, device: _dense.device);
            return new InMemoryDataset(_layout, _dense.index_select(0, idx), null, null, labels);
        }
        var values = new GrowableFloats(1 << 16);
        var offsets = new List<long> { 0 };
        foreach (var r in rows)
        {
            values.Append(_values.AsSpan((int)_offsets![r], (int)(_offsets[r + 1] - _offsets[r])));
            offsets.Add(values.Count);
        }
        return new InMemoryDataset(_layout, null, values.AsSpan().ToArray(), offsets.ToArray(), labels);
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
    }
}
