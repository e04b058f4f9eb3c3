using System.Collections;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Checkpoints;
using MLNetDeep.Datasets;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Onnx;
using MLNetDeep.Optimizers;
using MLNetDeep.Regularization;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Control;
using MLNetDeep.Tests.Sequence;
using MLNetDeep.Tests.Support;
using MLNetDeep.Training;
using Xunit;

namespace MLNetDeep.Tests.Reliability;

/// <summary>What a hostile or careless user found (issue #12): each case failed or was silently wrong before the fix.</summary>
[Trait("Category", "Unit")]
public class ReliabilityTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly Lazy<(IDataView Train, IDataView Test)> Small = new(() => ControlKit.Data(Ml, 400, 120));

    private static string TempDir() => Path.Combine(Path.GetTempPath(), "mlnetdeep-rel-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>A source that yields its rows once: a second enumeration (a second cursor) gets nothing.</summary>
    private sealed class ReadOnce<T> : IEnumerable<T>
    {
        private IEnumerable<T>? _rows;
        public ReadOnce(IEnumerable<T> rows) => _rows = rows;
        public IEnumerator<T> GetEnumerator()
        {
            var rows = _rows ?? Enumerable.Empty<T>();
            _rows = null;
            return rows.GetEnumerator();
        }
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>A source whose order changes between enumerations.</summary>
    private sealed class Reshuffling<T> : IEnumerable<T>
    {
        private readonly List<T> _rows;
        private int _reads;
        public Reshuffling(List<T> rows) => _rows = rows;
        public IEnumerator<T> GetEnumerator()
        {
            var rng = new Random(++_reads);
            return _rows.OrderBy(_ => rng.Next()).ToList().GetEnumerator();
        }
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed class Tagged
    {
        public int Id { get; set; }
        [VectorType(FashionMnist.Pixels)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void Transform_over_a_read_once_or_reordering_source_gives_every_row_its_own_score()
    {
        using var model = ControlKit.Fit(ControlKit.Mlp(new[] { 16 }, epochs: 1), Small.Value.Train);
        var images = TestData.TestImages(300).Select((img, i) => new Tagged { Id = i, Features = img.Features }).ToList();
        var reference = model.Transform(Ml.Data.LoadFromEnumerable(images)).GetColumn<float[]>("Score").ToArray();

        var once = model.Transform(Ml.Data.LoadFromEnumerable(new ReadOnce<Tagged>(images.Take(40).ToList())));
        var onceScores = once.GetColumn<float[]>("Score").ToArray();
        Assert.Equal(40, onceScores.Length); // it used to give 1 row
        for (int i = 0; i < 40; i++) Assert.Equal(reference[i], onceScores[i]);

        var shuffled = model.Transform(Ml.Data.LoadFromEnumerable(new Reshuffling<Tagged>(images)));
        using var cursor = shuffled.GetRowCursor(shuffled.Schema);
        var id = cursor.GetGetter<int>(shuffled.Schema["Id"]);
        var score = cursor.GetGetter<VBuffer<float>>(shuffled.Schema["Score"]);
        int rows = 0, v = 0;
        VBuffer<float> s = default;
        while (cursor.MoveNext())
        {
            id(ref v);
            score(ref s);
            Assert.Equal(reference[v], s.DenseValues().ToArray()); // each row with its own score (568 of 600 were not)
            rows++;
        }
        Assert.Equal(300, rows);
    }

    [Fact]
    public void Validation_labels_keyed_by_another_MapValueToKey_are_refused_naming_both_orders()
    {
        var images = TestData.TrainImages(300);
        var trainView = Ml.Data.LoadFromEnumerable(images);
        var train = Ml.Transforms.Conversion.MapValueToKey("Label").Fit(trainView).Transform(trainView);
        // Same ten classes, other order: keys sorted by value instead of by first appearance.
        var valView = Ml.Data.LoadFromEnumerable(TestData.TestImages(100));
        var val = Ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Fit(valView).Transform(valView);
        var e = Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(ControlKit.Mlp(new[] { 8 }, epochs: 1), train, val));
        Assert.Contains("keyed differently", e.Message);
        Assert.Contains("training has 10 classes", e.Message);
        Assert.Contains("Fit one MapValueToKey", e.Message);
    }

    [Fact]
    public void Exported_sequence_and_cnn_models_give_NaN_for_rows_with_NaN_values()
    {
        var ml = new MLContext(seed: 1);
        var lstm = ml.MulticlassClassification.Trainers.Sequence(new SequenceOptions { Input = new NumericSequence(28), HiddenSize = 8, Epochs = 1 });
        var cnn = ml.MulticlassClassification.Trainers.Cnn(Tiny.Options());
        var (train, _) = ControlKit.Data(ml, 200, 10);
        foreach (var trainer in new IEstimator<DeepTransformer>[] { lstm, cnn })
        {
            using var model = trainer.Fit(train);
            using var ms = new MemoryStream();
            model.ExportToOnnx(ms);
            using var session = new InferenceSession(ms.ToArray());
            var rows = new float[3 * FashionMnist.Pixels];
            TestData.TestImages(3).SelectMany(i => i.Features).ToArray().CopyTo(rows, 0);
            for (int j = 0; j < FashionMnist.Pixels; j++) rows[FashionMnist.Pixels + j] = float.NaN; // row 1: all NaN
            rows[2 * FashionMnist.Pixels + 100] = float.NaN;                                         // row 2: one NaN
            using var outputs = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Features", new DenseTensor<float>(rows, new[] { 3, FashionMnist.Pixels })) });
            var score = outputs.First(o => o.Name == "Score").AsTensor<float>().ToArray();
            int k = score.Length / 3;
            Assert.All(score.Take(k), p => Assert.True(float.IsFinite(p)));
            Assert.All(score.Skip(k), p => Assert.True(float.IsNaN(p), $"{model.Description.Architecture.GetType().Name}: {p} for a row with NaN"));
        }
    }

    [Fact]
    public void Save_after_Dispose_throws_ObjectDisposedException()
    {
        var model = ControlKit.Fit(ControlKit.Mlp(new[] { 8 }, epochs: 1), Small.Value.Train);
        model.Dispose();
        var path = Path.Combine(TempDir(), "m.mlnd");
        Assert.Contains("was disposed", Assert.Throws<ObjectDisposedException>(() => model.Save(path)).Message);
        Assert.False(File.Exists(path));
        Assert.Throws<ObjectDisposedException>(() => model.Transform(Small.Value.Test));
        Assert.Throws<ObjectDisposedException>(() => model.ExportToOnnx(new MemoryStream()));
        model.Dispose(); // twice is fine
    }

    [Fact]
    public void Damaged_checkpoints_are_refused_as_damaged_with_the_way_out()
    {
        var dir = TempDir();
        var o = ControlKit.Mlp(new[] { 8 }, epochs: 2);
        o.Checkpoints = new CheckpointOptions { Directory = dir };
        using (ControlKit.Fit(o, Small.Value.Train)) { }
        var latest = Path.Combine(dir, "latest");
        Assert.True(File.Exists(Path.Combine(dir, "previous", "info.json"))); // epoch 1's, kept as the way back
        o.Epochs = 4;

        // A truncated rng.bin used to reach LibTorch's set_rng_state and abort the process (SIGABRT).
        var rng = Path.Combine(latest, "rng.bin");
        var bytes = File.ReadAllBytes(rng);
        File.WriteAllBytes(rng, bytes[..100]);
        var e = Assert.Throws<CheckpointDamagedException>(() => ControlKit.Fit(o, Small.Value.Train));
        Assert.Contains("is damaged: rng.bin has 100 bytes", e.Message);
        Assert.Contains($"Delete the folder '{dir}'", e.Message);
        Assert.Contains("Checkpoints.ResumeFrom = CheckpointSlot.Previous to resume from the checkpoint of epoch 1", e.Message);
        File.WriteAllBytes(rng, bytes);

        // A truncated weights.bin says damaged, not "different architecture".
        var weights = Path.Combine(latest, "weights.bin");
        var w = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, w[..(w.Length / 2)]);
        Assert.Contains("weights.bin has", Assert.Throws<CheckpointDamagedException>(() => ControlKit.Fit(o, Small.Value.Train)).Message);
        File.WriteAllBytes(weights, w);

        // A garbage info.json, and a byte flipped inside a file of the right size.
        var info = Path.Combine(latest, "info.json");
        var json = File.ReadAllText(info);
        File.WriteAllText(info, "{ not json");
        Assert.Contains("info.json is not a checkpoint description", Assert.Throws<CheckpointDamagedException>(() => ControlKit.Fit(o, Small.Value.Train)).Message);
        File.WriteAllText(info, json);
        w[w.Length / 2] ^= 0xFF;
        File.WriteAllBytes(weights, w);
        Assert.Contains("weights.bin does not match its checksum", Assert.Throws<CheckpointDamagedException>(() => ControlKit.Fit(o, Small.Value.Train)).Message);

        // The way out it names works: resume from the previous checkpoint.
        o.Checkpoints = new CheckpointOptions { Directory = dir, ResumeFrom = CheckpointSlot.Previous };
        using var resumed = ControlKit.Fit(o, Small.Value.Train);
        Assert.Equal(4, resumed.History.Epochs.Count);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Valid_padding_with_a_kernel_larger_than_the_input_names_the_layer_before_LibTorch_runs()
    {
        var o = ControlKit.Mlp(new[] { 8 }, epochs: 1);
        o.ImageShape = new ImageShape(1, 28, 28);
        o.Layers = new() { new ConvBlock(4, 5) { Stride = 4, Padding = PaddingMode.Valid, BatchNorm = false }, new ConvBlock(4, 9) { Stride = 2, Padding = PaddingMode.Valid } };
        var e = Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(o, Small.Value.Train));
        Assert.Contains("Layers[1] (ConvBlock): the 9x9 kernel is larger than its input's height (6", e.Message);
        Assert.Contains("Received: KernelSize=9", e.Message);
        Assert.DoesNotContain("c10", e.Message); // no C++ frames
    }

    [Fact]
    public void Impossible_sizes_are_refused_up_front_with_the_figure_and_the_option()
    {
        var o = ControlKit.Mlp(new[] { 8 }, epochs: 1);
        o.Layers = new() { new ConvBlock(8, 3), new ConvBlock(2_000_000_000, 3) };
        var e = Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(o, Small.Value.Train));
        Assert.Contains("parameters", e.Message);
        Assert.Contains("Layers[1] (ConvBlock, Filters=2000000000", e.Message);

        var ml = new MLContext(seed: 1);
        var series = ml.Data.LoadFromEnumerable(SequenceData.Adding(20, 5, seed: 1));
        var big = new SequenceOptions { Input = new NumericSequence(2), HiddenSize = 200_000, Epochs = 1 };
        var e2 = Assert.ThrowsAny<ArgumentException>(() => ml.Regression.Trainers.Sequence(big).Fit(series));
        Assert.Contains("recurrent layer 0 (Lstm, HiddenSize=200000)", e2.Message);
        Assert.Contains("GB to train", e2.Message);
    }

    [Fact]
    public void A_null_layer_and_a_crafted_model_file_get_the_normal_messages()
    {
        var o = ControlKit.Mlp(new[] { 8 }, epochs: 1);
        o.Layers = new() { null! };
        Assert.Contains("Layers[0] is null", Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(o, Small.Value.Train)).Message);

        // A model file whose architecture says HiddenSizes [-5]: refused on load with the option's message.
        using var model = ControlKit.Fit(ControlKit.Mlp(new[] { 8 }, epochs: 1), Small.Value.Train);
        var arch = (CnnArchitecture)model.Description.Architecture;
        var crafted = new Persistence.ModelDescription
        {
            Architecture = new CnnArchitecture { ImageShape = arch.ImageShape, Layers = arch.Layers, Head = new DenseHead { HiddenSizes = new() { -5 } } },
            Head = model.Description.Head, FeatureColumnName = "Features", History = new(),
        };
        using var ms = new MemoryStream();
        Persistence.ModelFile.Write(ms, crafted, model.Network);
        ms.Position = 0;
        var e = Assert.Throws<InvalidDataException>(() => DeepTransformer.Load(ms));
        Assert.Contains("describes a network MLNetDeep can't build", e.Message);
        Assert.Contains("Head.HiddenSizes[0] must be > 0. Received: -5", e.Message);
    }

    [Fact]
    public void A_finite_loss_that_explodes_is_divergence_and_the_best_weights_are_kept()
    {
        var o = ControlKit.Mlp(new[] { 64 }, epochs: 3);
        o.Optimizer = new Adam { LearningRate = 1e4 };
        o.Regularization = new RegularizationOptions { OnNonFiniteLoss = NonFiniteLossAction.StopAndRestoreBest };
        // No finished epoch yet when it explodes: nothing worth keeping, so it throws with the cause.
        var e = Assert.Throws<TrainingDivergedException>(() => ControlKit.Fit(o, Small.Value.Train, Small.Value.Test));
        Assert.Contains("the loss exploded at epoch 1", e.Message);
        Assert.Contains("Lower Optimizer.LearningRate", e.Message);

        // After good epochs a rate change makes it explode: stopped, the best epoch's weights restored.
        var good = ControlKit.Mlp(new[] { 64 }, epochs: 4);
        good.Regularization = new RegularizationOptions { OnNonFiniteLoss = NonFiniteLossAction.StopAndRestoreBest };
        good.LearningRateSchedule = new MLNetDeep.Schedules.PiecewiseConstant { Boundaries = new long[] { 14 }, Values = new[] { 1e-3, 1e4 } };
        using var model = ControlKit.Fit(good, Small.Value.Train, Small.Value.Test);
        Assert.Contains("the loss exploded", model.History.StopReason);
        Assert.NotNull(model.History.RestoredEpoch);
        Assert.True(ControlKit.Accuracy(Ml, model, Small.Value.Test) > 0.5);
    }
}

/// <summary>Files a user passes or keeps: sweep databases and ML.NET model zips (issue #12, items 11 and 12).</summary>
[Trait("Category", "Unit")]
public class FileReliabilityTests
{
    private static string TempDir() => Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "mlnetdeep-files-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    [Fact]
    public void A_garbage_or_unwritable_sweep_file_is_named_with_the_fix()
    {
        var dir = TempDir();
        var garbage = Path.Combine(dir, "sweep.db");
        File.WriteAllText(garbage, "these are not the bytes of a SQLite database, but a sweep file nonetheless........");
        var e = Assert.Throws<IOException>(() => new MLNetDeep.Sweeps.SqliteSweepStorage(garbage));
        Assert.Contains($"The sweep file '{garbage}' is not a SQLite database", e.Message);
        Assert.Contains("Pass another path", e.Message);
        // /proc can't hold files, not even for root (CI runs as root, so a chmod'ed file would still be writable).
        var unwritable = "/proc/self/mlnetdeep-sweep.db";
        var e2 = Assert.Throws<IOException>(() => new MLNetDeep.Sweeps.SqliteSweepStorage(unwritable));
        Assert.Contains($"The sweep file '{unwritable}'", e2.Message);
        Assert.Contains("can't be written", e2.Message);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void A_damaged_model_zip_is_named_and_a_failed_save_keeps_the_old_zip()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = ControlKit.Data(ml, 200, 20);
        var model = ml.Transforms.CopyColumns("Pixels", "Features").Append(ml.MulticlassClassification.Trainers.Cnn(Tiny.Options())).Fit(train);
        var dir = TempDir();
        var path = Path.Combine(dir, "model.zip");
        ml.Model.SaveAtomic(model, train.Schema, path);
        var good = File.ReadAllBytes(path);
        var loaded = ml.Model.LoadChecked(path, out _);
        Assert.Equal(ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy,
            ml.MulticlassClassification.Evaluate(loaded.Transform(test)).MicroAccuracy, 5);

        // A save that fails half-way (here: the network was disposed) leaves the old zip as it was, and no temporary file.
        model.LastTransformer.Dispose();
        Assert.ThrowsAny<Exception>(() => ml.Model.SaveAtomic(model, train.Schema, path));
        Assert.Equal(good, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir));

        // Damaged bytes inside an entry: named, not three nested TargetInvocationExceptions.
        var damaged = good.ToArray();
        for (int i = damaged.Length / 2; i < damaged.Length / 2 + 64; i++) damaged[i] ^= 0x5A;
        var bad = Path.Combine(dir, "damaged.zip");
        File.WriteAllBytes(bad, damaged);
        var e = Assert.Throws<InvalidDataException>(() => ml.Model.LoadChecked(bad, out _));
        Assert.Contains($"The model zip '{bad}' is damaged: its entry", e.Message);
        File.WriteAllText(bad, "not a zip");
        Assert.Contains("is not an ML.NET model zip", Assert.Throws<InvalidDataException>(() => ml.Model.LoadChecked(bad, out _)).Message);
        Directory.Delete(dir, true);
    }
}
