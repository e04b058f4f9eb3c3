using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Checkpoints;
using MLNetDeep.Data;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Control;
using MLNetDeep.Tests.Support;
using MLNetDeep.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.DataModes;

/// <summary>Training streamed from the IDataView: the guarantees of in-memory training, with only a buffer in memory.</summary>
[Trait("Category", "Training")]
public sealed class StreamingTests
{
    private static readonly DataOptions Streaming = new() { Mode = DataMode.Streaming, ShuffleBufferRows = 150 };
    private readonly ITestOutputHelper _out;
    public StreamingTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void Without_shuffling_streaming_trains_the_weights_of_in_memory_bit_for_bit_with_the_same_validation()
    {
        // The modes differ only in their shuffle; without one they must feed the same batches in the same order.
        var ml = new MLContext(seed: 1);
        var train = DataKit.Floats(ml, 700);
        var validation = DataKit.Floats(ml, 300, test: true);
        using var inMemory = DataKit.Fit(DataKit.Cnn(new DataOptions { Mode = DataMode.InMemory }, shuffle: false), train, validation);
        using var streamed = DataKit.Fit(DataKit.Cnn(Streaming, shuffle: false), train, validation);
        Assert.Empty(DataKit.Differences(inMemory, streamed));
        Assert.Equal(inMemory.History.Epochs.Select(e => e.TrainLoss), streamed.History.Epochs.Select(e => e.TrainLoss));
        Assert.Equal(inMemory.History.Epochs.Select(e => e.ValidationLoss), streamed.History.Epochs.Select(e => e.ValidationLoss));
        Assert.Equal(inMemory.History.Epochs.Select(e => e.ValidationMetrics["accuracy"]), streamed.History.Epochs.Select(e => e.ValidationMetrics["accuracy"]));
        Assert.True(streamed.History.Epochs[^1].ValidationMetrics["accuracy"] > 0.5, "the model should learn something");
    }

    [Fact]
    public void Streaming_with_a_shuffle_buffer_gives_the_same_weights_for_the_same_seed_and_resumes_bit_for_bit()
    {
        var ml = new MLContext(seed: 1);
        var train = DataKit.Floats(ml, 600);
        CnnOptionsWith(out var straightOptions);
        using var straight = DataKit.Fit(straightOptions, train);
        CnnOptionsWith(out var againOptions);
        using var again = DataKit.Fit(againOptions, train);
        Assert.Empty(DataKit.Differences(straight, again));

        CnnOptionsWith(out var other);
        other.Seed = 5;
        using var otherSeed = DataKit.Fit(other, train);
        Assert.NotEmpty(DataKit.Differences(straight, otherSeed));

        var dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-stream-ckpt-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            using var cts = new CancellationTokenSource();
            CnnOptionsWith(out var first);
            first.Checkpoints = new CheckpointOptions { Directory = dir };
            first.CancellationToken = cts.Token;
            first.Callbacks.Add(new ControlKit.Hook { BatchEnd = (c, b, _) => { if (c.Epoch == 2 && b == 3) cts.Cancel(); } });
            Assert.ThrowsAny<OperationCanceledException>(() => DataKit.Fit(first, train));
            CnnOptionsWith(out var second);
            second.Checkpoints = new CheckpointOptions { Directory = dir };
            using var resumed = DataKit.Fit(second, train);
            Assert.Equal(straight.History.Epochs.Select(e => e.TrainLoss), resumed.History.Epochs.Select(e => e.TrainLoss));
            Assert.Empty(DataKit.Differences(straight, resumed));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
        Assert.Equal(0, BatchWorker.Live);

        static void CnnOptionsWith(out Models.Cnn.CnnOptions o)
        {
            o = DataKit.Cnn(Streaming, epochs: 3);
            o.Head.Dropout = 0.3; // dropout draws from the run's generator: the resume must put it back too
        }
    }

    [Fact]
    public void A_validation_fraction_holds_out_the_same_rows_in_both_modes_read_in_source_order_when_streaming()
    {
        var ml = new MLContext(seed: 1);
        var view = DataKit.Floats(ml, 500);
        var columns = Columns();
        using var memory = InMemoryDataset.Load(view, "training", columns, null, ClassNames(view), CPU);
        using var stream = StreamingDataset.Open(view, "training", columns, null, ClassNames(view), CPU, null, 100);
        var (memTrain, memVal) = memory.Split(0.2, new Random(9));
        var (streamTrain, streamVal) = stream.Split(0.2, new Random(9));
        using (memTrain) using (memVal) using (streamTrain) using (streamVal)
        {
            Assert.Equal(memVal.Count, streamVal.Count);
            Assert.Equal(memTrain.Count, streamTrain.Count);
            var a = Rows(memVal.InOrder(64));
            var b = Rows(streamVal.InOrder(64));
            Assert.Equal(a.Order(StringComparer.Ordinal), b.Order(StringComparer.Ordinal)); // the same rows
            Assert.NotEqual(a, b);                                                            // in-memory keeps the permutation's order
            Assert.Equal(b.Order(StringComparer.Ordinal).Count(), b.Distinct().Count());
            Assert.Empty(Rows(streamTrain.InOrder(64)).Intersect(b));                        // no row in both
        }
    }

    [Fact]
    public void Every_streamed_epoch_is_a_permutation_of_the_rows_seeded_by_seed_and_epoch()
    {
        var ml = new MLContext(seed: 1);
        var view = DataKit.Floats(ml, 300);
        using var set = StreamingDataset.Open(view, "training", Columns(), null, ClassNames(view), CPU, null, 64);
        var inOrder = Rows(set.InOrder(300));
        var plan = new BatchPlan(50, true, Seed: 7);
        var e1 = Rows(set.Epoch(1, plan));
        var e1Again = Rows(set.Epoch(1, plan));
        var e2 = Rows(set.Epoch(2, plan));
        Assert.Equal(inOrder.Order(StringComparer.Ordinal), e1.Order(StringComparer.Ordinal));
        Assert.Equal(inOrder.Order(StringComparer.Ordinal), e2.Order(StringComparer.Ordinal));
        Assert.Equal(e1, e1Again);
        Assert.NotEqual(e1, e2);
        Assert.NotEqual(inOrder, e1);
        // A buffer of 64 rows: a row can't come out before 64 rows later ones have been read... but it can come out late.
        var firstOut = e1.Take(1).Single();
        Assert.True(inOrder.IndexOf(firstOut) < 64, "the first row out is one of the first buffer's");
        // A buffer as large as the data is a full permutation: the first row out can be any row.
        using var full = StreamingDataset.Open(view, "training", Columns(), null, ClassNames(view), CPU, null, 300);
        var starts = Enumerable.Range(1, 20).Select(e => inOrder.IndexOf(Rows(full.Epoch(e, plan)).First())).ToList();
        Assert.Contains(starts, s => s >= 64);
    }

    [Fact]
    public void A_bad_row_met_while_streaming_fails_on_the_training_thread_naming_the_row()
    {
        var ml = new MLContext(seed: 1);
        var images = TestData.TrainImages(400).Select(i => new Datasets.FashionMnistImage { Features = i.Features.ToArray(), Label = i.Label }).ToList();
        images[333].Features[5] = float.NaN;
        var view = DataKit.Key(ml).Transform(ml.Data.LoadFromEnumerable(images));
        var e = Assert.Throws<InvalidDataException>(() => DataKit.Fit(DataKit.Cnn(Streaming), view));
        _out.WriteLine(e.Message);
        Assert.Contains("row 333, slot 5", e.Message);
        Assert.Contains("StreamingDataset", e.StackTrace); // thrown where the row was read (the worker), rethrown here with its stack
        Assert.Equal(0, BatchWorker.Live);
    }

    [Fact]
    public void Cancelling_while_streaming_stops_the_run_and_its_batch_worker()
    {
        var ml = new MLContext(seed: 1);
        var train = DataKit.Floats(ml, 600);
        using var cts = new CancellationTokenSource();
        var o = DataKit.Cnn(Streaming, epochs: 5);
        o.CancellationToken = cts.Token;
        int batches = 0;
        o.Callbacks.Add(new ControlKit.Hook { BatchEnd = (_, _, _) => { if (++batches == 3) cts.Cancel(); } });
        Assert.ThrowsAny<OperationCanceledException>(() => DataKit.Fit(o, train));
        Assert.Equal(3, batches);
        Assert.Equal(0, BatchWorker.Live);
    }

    [Fact]
    public void Auto_mode_streams_when_the_data_exceeds_the_memory_budget_and_says_why_in_the_log()
    {
        var lines = new List<string>();
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) => { if (e.Source == "MLNetDeep") lock (lines) lines.Add(e.RawMessage); };
        var train = DataKit.Floats(ml, 500);
        // 500 rows x (784 floats + label) = 1.6 MB
        var small = new DataOptions { MemoryBudgetBytes = 1_000_000 };
        using var streamed = ml.MulticlassClassification.Trainers.Cnn(DataKit.Cnn(small, epochs: 1)).Fit(train);
        using var inMemory = ml.MulticlassClassification.Trainers.Cnn(DataKit.Cnn(new DataOptions(), epochs: 1)).Fit(train);
        var data = lines.Where(l => l.StartsWith("Training data")).ToList();
        foreach (var l in data) _out.WriteLine(l);
        Assert.Equal(2, data.Count);
        Assert.StartsWith("Training data streamed from the IDataView every epoch", data[0]);
        Assert.Contains("500 rows x 3,144 B = 1.6 MB is more than the memory budget of 1 MB (Data.MemoryBudgetBytes)", data[0]);
        Assert.Contains("a buffer of 79 rows", data[0]); // a quarter of the budget / 3,144 B
        Assert.StartsWith("Training data in memory: Data.Mode = Auto: 500 rows x 3,144 B = 1.6 MB fits the memory budget of", data[1]);
        Assert.Contains(lines, l => l.StartsWith("LibTorch threads: "));
    }

    [Fact]
    public void Streaming_with_a_budget_below_the_data_size_keeps_memory_flat_over_epochs()
    {
        var ml = new MLContext(seed: 1);
        var train = DataKit.Floats(ml, 1500);
        var rss = new List<double>();
        var o = DataKit.Cnn(new DataOptions { MemoryBudgetBytes = 2_000_000 }, epochs: 7); // the rows take 4.7 MB
        o.Callbacks.Add(new ControlKit.Hook { EpochEnd = (_, _) => rss.Add(DataKit.RssMb()) });
        using var model = DataKit.Fit(o, train);
        _out.WriteLine("RSS after each epoch (MB): " + string.Join(", ", rss.Select(r => r.ToString("F1"))));
        // From the second epoch on (the first warms up LibTorch's kernels and the allocator), memory must not grow.
        double growth = (rss.Skip(1).Max() - rss[1]) / rss[1];
        Assert.True(growth < 0.05, $"RSS grew {growth:P1} between epoch 2 and the end");
        Assert.Equal(7, model.History.Epochs.Count);
    }

    [Fact]
    public void A_source_that_changes_between_epochs_is_refused_with_the_fix()
    {
        var ml = new MLContext(seed: 1);
        var rows = TestData.TrainImages(300);
        int reads = 0;
        // A source that yields one row fewer from its third read on (e.g. a file appended to or a random filter).
        IEnumerable<Datasets.FashionMnistImage> Source() { int read = reads++; return read >= 2 ? rows.Take(299) : rows; }
        var view = DataKit.Key(ml).Transform(ml.Data.LoadFromEnumerable(new Reread(Source)));
        var e = Assert.Throws<InvalidDataException>(() => DataKit.Fit(DataKit.Cnn(Streaming, epochs: 3), view));
        _out.WriteLine(e.Message);
        Assert.Contains("299 rows on this pass but 300 when training started", e.Message);
        Assert.Contains("Mode = DataMode.InMemory", e.Message);
    }

    /// <summary>An enumerable whose every enumeration asks <see cref="_source"/> anew.</summary>
    private sealed class Reread(Func<IEnumerable<Datasets.FashionMnistImage>> source) : IEnumerable<Datasets.FashionMnistImage>
    {
        private readonly Func<IEnumerable<Datasets.FashionMnistImage>> _source = source;
        public IEnumerator<Datasets.FashionMnistImage> GetEnumerator() => _source().GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    internal static DataColumns Columns() => new(new FixedShapeLayout { Shape = new long[] { 1, 28, 28 } }, "Features",
        TaskHead.For(PredictionKind.MulticlassClassification), "Label", null);

    internal static string[] ClassNames(IDataView view) => TaskHead.For(PredictionKind.MulticlassClassification).CheckLabelColumn(view.Schema["Label"]);

    /// <summary>Each row of the batches as a string of its pixels (a row's identity).</summary>
    internal static List<string> Rows(IEnumerable<Batch> batches)
    {
        var result = new List<string>();
        foreach (var b in batches)
        {
            using var scope = NewDisposeScope();
            var f = b.Features.to(ScalarType.Float32).reshape(b.Count, -1).contiguous();
            var values = f.data<float>().ToArray();
            int size = values.Length / (int)b.Count;
            for (int i = 0; i < b.Count; i++) result.Add(string.Join(",", values.Skip(i * size).Take(size)));
        }
        return result;
    }
}
