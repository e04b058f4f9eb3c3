using Microsoft.ML;
using MLNetDeep.Tasks;
using static TorchSharp.torch;

namespace MLNetDeep.Data;

/// <summary>
/// Rows read from the IDataView's cursor every epoch instead of kept in memory: only the labels and weights (small)
/// are held, plus a shuffle buffer and the batch being built. The source is read in its own order every time; the
/// epoch's shuffle is a <see cref="ShuffleBuffer{T}"/> seeded from (seed, epoch), so a resumed run shuffles as an
/// uninterrupted one. Feature rows are checked as they stream (the same messages as in memory, naming the row).
/// </summary>
internal sealed class StreamingDataset : ITrainingData
{
    private readonly IDataView _source;
    private readonly DataColumns _c;
    private readonly bool _bytes;
    private readonly long[]? _rowShape;   // fixed-size rows; null when rows vary
    private readonly long _rowSize;
    private readonly long _sourceRows;
    private readonly int[]? _local;        // source row → row of this set, −1 = not in it; null = every row
    private readonly LabelTable _labels;
    private readonly int _shuffleRows;
    private object? _spareBlock;           // the last epoch's shuffle block, reused by the next

    private StreamingDataset(IDataView source, DataColumns c, bool bytes, long[]? rowShape, long sourceRows, int[]? local,
        LabelTable labels, long longestRow, int shuffleRows)
    {
        _source = source; _c = c; _bytes = bytes; _rowShape = rowShape; _sourceRows = sourceRows; _local = local;
        _labels = labels; LongestRow = longestRow; _shuffleRows = shuffleRows;
        _rowSize = rowShape?.Aggregate(1L, (a, b) => a * b) ?? 0;
    }

    public long Count => _labels.Count;
    public HeadSpec Spec => _labels.Spec;
    public float[] RawLabels => _labels.RawLabels;
    public long LongestRow { get; }
    /// <summary>Rows the epoch's shuffle buffer holds.</summary>
    public int ShuffleRows => _shuffleRows;
    /// <summary>True when Byte features stream as bytes.</summary>
    public bool StoresBytes => _bytes;

    /// <summary>
    /// One pass over <paramref name="data"/> for the labels and weights (checked, as in memory) and the row count; the
    /// features are read too when rows vary in size (for the longest row and the per-step label check), otherwise not.
    /// </summary>
    public static StreamingDataset Open(IDataView data, string role, DataColumns c, HeadSpec? spec, string[] classNames, Device device,
        OutputColumnNames? columns, int shuffleRows)
    {
        var schema = data.Schema;
        var rowShape = c.Layout.DenseRowShape(schema[c.Feature].Type);
        bool bytes = c.StoresBytes(schema);
        long longest = rowShape?.Aggregate(1L, (a, b) => a * b) ?? 0;
        bool readFeatures = rowShape is null;
        LabelColumns labels;
        using (var cursor = data.GetRowCursor(c.Active(schema, features: readFeatures, labels: true)))
        {
            var features = readFeatures ? new FeatureRowReader(cursor, c, bytes: false, 0) : null;
            labels = new LabelColumns(cursor, c);
            long row = 0;
            while (cursor.MoveNext())
            {
                int length = -1;
                if (features is not null)
                {
                    length = features.Floats(row).Length;
                    longest = Math.Max(longest, length);
                }
                labels.Read(row, length);
                row++;
            }
        }
        var table = labels.Finish(role, spec, classNames, columns, device);
        return new StreamingDataset(data, c, bytes, rowShape, table.Count, null, table, longest, Math.Max(1, shuffleRows));
    }

    /// <summary>
    /// Splits off a seeded random fraction of rows for validation: the same rows the in-memory split takes for the same
    /// seed (one permutation of the row numbers), each set read in the source's order. Only the row numbers are held.
    /// </summary>
    public (StreamingDataset Train, StreamingDataset Validation) Split(double validationFraction, Random rng)
    {
        if (_local is not null) throw new InvalidOperationException("Split a whole data set, not a part of one.");
        long nVal = Math.Max(1, (long)Math.Round(Count * validationFraction));
        if (nVal >= Count)
            throw new ArgumentOutOfRangeException(nameof(Training.TrainerOptions.ValidationFraction), validationFraction,
                $"ValidationFraction={validationFraction} leaves no training rows out of {Count}. Use a smaller fraction or more data.");
        var perm = InMemoryDataset.Permutation(Count, rng);
        StreamingDataset Part(long[] rows, int shuffle)
        {
            Array.Sort(rows);
            var local = new int[_sourceRows];
            Array.Fill(local, -1);
            for (int i = 0; i < rows.Length; i++) local[rows[i]] = i;
            return new StreamingDataset(_source, _c, _bytes, _rowShape, _sourceRows, local, _labels.Subset(rows), LongestRow, shuffle);
        }
        return (Part(perm[(int)nVal..], (int)Math.Min(_shuffleRows, Count - nVal)), Part(perm[..(int)nVal], 1));
    }

    /// <inheritdoc />
    public IEnumerable<Batch> Epoch(int epoch, BatchPlan plan) =>
        _bytes ? Stream<byte>(plan.BatchSize, plan.Shuffle ? plan.EpochRandom(epoch) : null)
               : Stream<float>(plan.BatchSize, plan.Shuffle ? plan.EpochRandom(epoch) : null);

    /// <inheritdoc />
    public IEnumerable<Batch> InOrder(long chunk) => _bytes ? Stream<byte>(chunk, null) : Stream<float>(chunk, null);

    /// <summary>One pass over the source: its rows of this set, shuffled through a buffer when <paramref name="rng"/> is set, in batches.</summary>
    private IEnumerable<Batch> Stream<T>(long batchSize, Random? rng) where T : unmanaged
    {
        batchSize = Math.Max(1, Math.Min(batchSize, Count));
        var schema = _source.Schema;
        using var cursor = _source.GetRowCursor(_c.Active(schema, features: true, labels: false));
        var reader = new FeatureRowReader(cursor, _c, _bytes, _rowSize);
        using var builder = new BatchBuilder<T>(_c.Layout, _rowShape, batchSize, _labels);
        var shuffle = rng is null ? null
            : new ShuffleBuffer<T>((int)Math.Min(_shuffleRows, Count), _rowSize, rng, Interlocked.Exchange(ref _spareBlock, null) as T[]);
        long source = 0;
        while (cursor.MoveNext())
        {
            long row = source++;
            if (row >= _sourceRows) break; // reported below
            long id = _local is null ? row : _local[row];
            if (id < 0) continue;
            Take(reader, row, id, shuffle, builder);
            if (builder.Full) yield return builder.Build();
        }
        if (source != _sourceRows)
            throw new InvalidDataException(
                $"The data gave {(source > _sourceRows ? "more than " : "")}{source} rows on this pass but {_sourceRows} when training started. Streaming reads the " +
                "IDataView again every epoch, so it must return the same rows each time (a file that changes, or a random filter or sample, does not). " +
                "Fix the source, or train in memory (Data = new DataOptions { Mode = DataMode.InMemory }).");
        if (shuffle is not null)
        {
            while (shuffle.EmitOne(builder))
                if (builder.Full) yield return builder.Build();
            Interlocked.Exchange(ref _spareBlock, shuffle.Block);
        }
        if (builder.Rows > 0) yield return builder.Build();
    }

    /// <summary>Reads source row <paramref name="row"/> (set row <paramref name="id"/>) into the shuffle buffer or straight into the batch.</summary>
    private static void Take<T>(FeatureRowReader reader, long row, long id, ShuffleBuffer<T>? shuffle, BatchBuilder<T> builder) where T : unmanaged
    {
        var features = typeof(T) == typeof(byte)
            ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(reader.Bytes(row))
            : System.Runtime.InteropServices.MemoryMarshal.Cast<float, T>(reader.Floats(row));
        if (shuffle is null) builder.Add(id, features);
        else shuffle.Add(id, features, builder);
    }

    public void Dispose() => _labels.Dispose();
}
