using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Tasks;
using static TorchSharp.torch;

namespace MLNetDeep.Data;

/// <summary>What one Fit reads its rows from, and how (setup only; the loop sees an <see cref="ITrainingData"/>).</summary>
internal sealed record DataRequest(
    IDataView Train, IDataView? Validation, DataColumns Columns, HeadSpec? Spec, string[] ClassNames, Device Device,
    OutputColumnNames OutputNames, int Seed, double ValidationFraction, long BatchSize, DataOptions Options, CancellationToken Token);

/// <summary>An estimate of a data set's size in memory: rows × bytes per row.</summary>
internal readonly record struct SizeEstimate(long Rows, double BytesPerRow, bool Counted, bool Sampled)
{
    public double Bytes => Rows * BytesPerRow;
}

/// <summary>
/// Chooses the data mode (in memory, or streaming from the IDataView), says in the log which and why, and builds the
/// training and validation sets, both wrapped in <see cref="PreparedData"/> (batches prepared on a background thread).
/// </summary>
internal static class TrainingDataLoader
{
    /// <summary>Rows read to estimate the size of variable-length rows.</summary>
    internal const int SampleRows = 1000;

    public static (ITrainingData Train, ITrainingData? Validation) Load(DataRequest r, Action<string>? log, long? processMemory = null)
    {
        var o = r.Options;
        long memory = processMemory ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        long budget = o.Budget(memory);
        SizeEstimate? train = null, validation = null;
        if (o.Mode != DataMode.InMemory)
        {
            train = Estimate(r.Train, r.Columns);
            if (r.Validation is not null) validation = Estimate(r.Validation, r.Columns);
        }
        double total = (train?.Bytes ?? 0) + (validation?.Bytes ?? 0);
        bool streaming = o.Mode == DataMode.Streaming || (o.Mode == DataMode.Auto && total > budget);
        int shuffleRows = streaming ? ShuffleRows(o, train!.Value, budget, r.BatchSize, RowValues(r.Train, r.Columns)) : 0;
        log?.Invoke(Explain(o, streaming, train, validation, budget, memory, shuffleRows, r.Columns.StoresBytes(r.Train.Schema)));

        var (t, v) = streaming ? LoadStreaming(r, shuffleRows) : LoadInMemory(r);
        ByteScaling? scaling = IsByteColumn(r.Train.Schema, r.Columns) ? o.ByteScaling : null;
        return (new PreparedData(t, o.PrefetchBatches, scaling, r.Device, r.Token),
                v is null ? null : new PreparedData(v, o.PrefetchBatches, scaling, r.Device, r.Token));
    }

    /// <summary>True when the feature column holds plain Byte values (not keys): <see cref="DataOptions.ByteScaling"/> applies.</summary>
    internal static bool IsByteColumn(DataViewSchema schema, DataColumns c) => DataColumns.HoldsBytes(schema[c.Feature].Type);

    private static (ITrainingData, ITrainingData?) LoadInMemory(DataRequest r) => LoadSets(r,
        (view, role, spec) => InMemoryDataset.Load(view, role, r.Columns, spec, r.ClassNames, r.Device, r.OutputNames),
        set => set.Split(r.ValidationFraction, new Random(r.Seed)));

    private static (ITrainingData, ITrainingData?) LoadStreaming(DataRequest r, int shuffleRows) => LoadSets(r,
        (view, role, spec) => StreamingDataset.Open(view, role, r.Columns, spec, r.ClassNames, r.Device, r.OutputNames, role == "training" ? shuffleRows : 1),
        set => set.Split(r.ValidationFraction, new Random(r.Seed)));

    /// <summary>The training set, and the validation set (its own data, a seeded fraction of the training rows, or none).</summary>
    private static (ITrainingData, ITrainingData?) LoadSets<T>(DataRequest r, Func<IDataView, string, HeadSpec?, T> open, Func<T, (T Train, T Validation)> split)
        where T : ITrainingData
    {
        var train = open(r.Train, "training", r.Spec);
        try
        {
            if (r.Validation is not null) return (train, open(r.Validation, "validation", train.Spec));
            if (r.ValidationFraction <= 0) return (train, null);
            var (t, v) = split(train);
            train.Dispose();
            return (t, v);
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Rows × bytes per row as the in-memory set would hold them: fixed-size rows from the column type (1 byte a value
    /// for Byte columns, 4 otherwise), variable-size rows from the first <see cref="SampleRows"/> rows; plus the labels.
    /// The row count is the view's when it knows it, else counted by a pass that reads no column.
    /// </summary>
    internal static SizeEstimate Estimate(IDataView data, DataColumns c)
    {
        var schema = data.Schema;
        long? known = data.GetRowCount();
        long rows = known ?? CountRows(data);
        var rowShape = c.Layout.DenseRowShape(schema[c.Feature].Type);
        double values = rowShape?.Aggregate(1L, (a, b) => a * b) ?? SampleMeanValues(data, c);
        double perRow = values * (c.StoresBytes(schema) ? 1 : sizeof(float)) + (rowShape is null ? sizeof(long) : 0)
                        + sizeof(long) + (c.Weight is null ? 0 : sizeof(float));
        return new SizeEstimate(rows, perRow, known is null, rowShape is null);
    }

    private static long CountRows(IDataView data)
    {
        long n = 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext()) n++;
        return n;
    }

    private static double SampleMeanValues(IDataView data, DataColumns c)
    {
        using var cursor = data.GetRowCursor(new[] { data.Schema[c.Feature] });
        var reader = new FeatureColumnReader(cursor, data.Schema[c.Feature]);
        long rows = 0, values = 0;
        while (rows < SampleRows && cursor.MoveNext())
        {
            values += reader.Read().Length;
            rows++;
        }
        return rows == 0 ? 0 : (double)values / rows;
    }

    /// <summary>Feature values per row of fixed-size rows (the shuffle buffer's block is at most one array of them), 0 when rows vary.</summary>
    private static long RowValues(IDataView data, DataColumns c) =>
        c.Layout.DenseRowShape(data.Schema[c.Feature].Type)?.Aggregate(1L, (a, b) => a * b) ?? 0;

    /// <summary>
    /// The streaming shuffle buffer: <see cref="DataOptions.ShuffleBufferRows"/>, else as many rows as fit in a quarter of
    /// the budget — at least one batch, at most the data's rows (and one array's worth of values).
    /// </summary>
    internal static int ShuffleRows(DataOptions o, SizeEstimate train, long budget, long batchSize, long rowValues)
    {
        long rows = o.ShuffleBufferRows ?? (long)Math.Max(Math.Min(batchSize, train.Rows), budget / 4.0 / Math.Max(1, train.BytesPerRow));
        rows = Math.Min(rows, Math.Max(1, train.Rows));
        if (rowValues > 0) rows = Math.Min(rows, Array.MaxLength / rowValues);
        return (int)Math.Clamp(rows, 1, int.MaxValue);
    }

    internal static string Explain(DataOptions o, bool streaming, SizeEstimate? train, SizeEstimate? validation, long budget, long memory,
        int shuffleRows, bool bytes)
    {
        var ci = CultureInfo.InvariantCulture;
        string prefetch = o.PrefetchBatches > 0
            ? string.Format(ci, " Batches are prepared {0} ahead on a background thread.", o.PrefetchBatches)
            : " Batches are prepared on the training thread (Data.PrefetchBatches = 0).";
        string where = streaming
            ? "streamed from the IDataView every epoch (only labels, a shuffle buffer and a few batches are held)"
            : "in memory";
        if (train is not SizeEstimate t)
            return $"Training data {where} (Data.Mode = {o.Mode}).{prefetch}";
        string size = string.Format(ci, "{0:N0} rows x {1:N0} B{2}{3}", t.Rows, t.BytesPerRow, bytes ? " (Byte features kept as bytes)" : "",
            t.Sampled ? string.Format(ci, " (row size from the first {0:N0} rows)", SampleRows) : "");
        if (validation is SizeEstimate v) size += string.Format(ci, " + {0:N0} validation rows", v.Rows);
        size += " = " + Size(t.Bytes + (validation?.Bytes ?? 0));
        string budgetText = Size(budget) + (o.MemoryBudgetBytes is null
            ? $" (half of the {Size(memory)} this process may use; Data.MemoryBudgetBytes sets it)"
            : " (Data.MemoryBudgetBytes)");
        string why = o.Mode == DataMode.Streaming ? $"{size}; Data.Mode = Streaming"
            : streaming ? $"Data.Mode = Auto: {size} is more than the memory budget of {budgetText}"
            : $"Data.Mode = Auto: {size} fits the memory budget of {budgetText}";
        string shuffle = streaming
            ? string.Format(ci, " Each epoch shuffles through a buffer of {0:N0} rows ({1}) instead of a full permutation{2}.", shuffleRows,
                Size(shuffleRows * t.BytesPerRow), o.ShuffleBufferRows is null ? "; Data.ShuffleBufferRows sets it" : "")
            : "";
        return $"Training data {where}: {why}.{shuffle}{prefetch}";
    }

    /// <summary>"188 MB", "12.3 GB" (decimal units).</summary>
    internal static string Size(double bytes)
    {
        var ci = CultureInfo.InvariantCulture;
        return bytes >= 1e9 ? string.Format(ci, "{0:0.#} GB", bytes / 1e9)
            : bytes >= 1e6 ? string.Format(ci, "{0:0.#} MB", bytes / 1e6)
            : bytes >= 1e3 ? string.Format(ci, "{0:0.#} KB", bytes / 1e3)
            : string.Format(ci, "{0:0} B", bytes);
    }
}
