using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Data;
using MLNetDeep.Onnx;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Control;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.DataModes;

/// <summary>Byte feature columns stay bytes in memory and are scaled batch by batch, in training and in scoring.</summary>
[Trait("Category", "Training")]
public sealed class ByteFeatureTests
{
    private readonly ITestOutputHelper _out;
    public ByteFeatureTests(ITestOutputHelper output) => _out = output;

    private static readonly DataOptions Bytes01 = new() { Mode = DataMode.InMemory, ByteScaling = ByteScaling.UnitRange };

    [Fact]
    public void A_byte_column_scaled_to_unit_range_trains_the_float_columns_weights_in_a_quarter_of_the_memory()
    {
        var ml = new MLContext(seed: 1);
        var floats = DataKit.Floats(ml, 2000);
        var bytes = DataKit.Bytes(ml, 2000);
        using var floatModel = DataKit.Fit(DataKit.Cnn(new DataOptions { Mode = DataMode.InMemory }, epochs: 2), floats);
        using var byteModel = DataKit.Fit(DataKit.Cnn(Bytes01, epochs: 2), bytes);

        // The float column is byte × (1f / 255) (FashionMnist.Read); the byte batches become float32 × (1f / 255): the same
        // numbers, so the same weights, bit for bit.
        Assert.Empty(DataKit.Differences(floatModel, byteModel));
        double floatAccuracy = ControlKit.Accuracy(ml, floatModel, DataKit.Floats(ml, 1000, test: true));
        double byteAccuracy = ControlKit.Accuracy(ml, byteModel, DataKit.Bytes(ml, 1000, test: true));
        _out.WriteLine($"test accuracy: float column {floatAccuracy:F4}, byte column {byteAccuracy:F4}");
        Assert.Equal(floatAccuracy, byteAccuracy);
        Assert.True(byteAccuracy > 0.7, $"accuracy {byteAccuracy:F4}");

        // What the in-memory sets hold: uint8 against float32.
        var columns = StreamingTests.Columns();
        using var floatSet = InMemoryDataset.Load(floats, "training", columns, null, StreamingTests.ClassNames(floats), CPU);
        using var byteSet = InMemoryDataset.Load(bytes, "training", columns, null, StreamingTests.ClassNames(bytes), CPU);
        _out.WriteLine($"feature tensor bytes: float column {floatSet.FeatureBytes:N0}, byte column {byteSet.FeatureBytes:N0}");
        Assert.Equal(2000L * 784 * 4, floatSet.FeatureBytes);
        Assert.Equal(2000L * 784, byteSet.FeatureBytes);
    }

    [Fact]
    public void Byte_rows_stream_as_bytes_and_train_as_in_memory_without_shuffling()
    {
        var ml = new MLContext(seed: 1);
        var bytes = DataKit.Bytes(ml, 600);
        using var inMemory = DataKit.Fit(DataKit.Cnn(Bytes01, shuffle: false), bytes);
        using var streamed = DataKit.Fit(DataKit.Cnn(new DataOptions { Mode = DataMode.Streaming, ByteScaling = ByteScaling.UnitRange }, shuffle: false), bytes);
        Assert.Empty(DataKit.Differences(inMemory, streamed));
        using var set = StreamingDataset.Open(bytes, "training", StreamingTests.Columns(), null, StreamingTests.ClassNames(bytes), CPU, null, 10);
        Assert.True(set.StoresBytes);
        using var scope = NewDisposeScope();
        Assert.Equal(ScalarType.Byte, set.InOrder(8).First().Features.dtype);
    }

    [Fact]
    public void The_scaling_is_saved_with_the_model_applied_when_scoring_bytes_exported_to_onnx_and_a_float_column_is_refused()
    {
        var ml = new MLContext(seed: 1);
        var o = DataKit.Cnn(new DataOptions { ByteScaling = ByteScaling.SymmetricRange }, epochs: 1);
        using var model = DataKit.Fit(o, DataKit.Bytes(ml, 600));
        Assert.Equal(ByteScaling.SymmetricRange, model.Description.ByteScaling);
        var test = DataKit.Bytes(ml, 200, test: true);
        var scores = model.Transform(test).GetColumn<float[]>("Score").ToArray();

        // Both scoring engines apply the scaling: LibTorch scales the batch, ONNX Runtime runs the graph that scales its input.
        model.ScoringEngine = MLNetDeep.Inference.ScoringEngine.LibTorch;
        var torchScores = model.Transform(test).GetColumn<float[]>("Score").ToArray();
        model.ScoringEngine = MLNetDeep.Inference.ScoringEngine.OnnxRuntime;
        var ortScores = model.Transform(test).GetColumn<float[]>("Score").ToArray();
        model.ScoringEngine = MLNetDeep.Inference.ScoringEngine.Auto;
        double engines = torchScores.SelectMany(s => s).Zip(ortScores.SelectMany(s => s)).Max(p => Math.Abs(p.First - p.Second));
        _out.WriteLine($"ONNX Runtime engine vs LibTorch max abs diff {engines:G3}");
        // Measured 1.7e-5 here (inputs in [-1, 1]; ONNX Runtime's fused convolutions round differently): float32 noise, but
        // above the 1e-5 the float-input parity tests hold, so this bound is the ONNX checks' 1e-4.
        Assert.True(engines < 1e-4, $"max abs diff {engines}");

        var path = Path.Combine(Path.GetTempPath(), $"mlnetdeep-bytes-{Guid.NewGuid():N}.mlnd");
        try
        {
            model.Save(path);
            using var loaded = DeepTransformer.Load(path);
            Assert.Equal(ByteScaling.SymmetricRange, loaded.Description.ByteScaling);
            Assert.Equal(scores, loaded.Transform(test).GetColumn<float[]>("Score").ToArray());
        }
        finally { File.Delete(path); }

        // Scored row by row too (PredictionEngine's path).
        var engine = ml.Model.CreatePredictionEngine<Datasets.FashionMnistByteImage, ScoreRow>(
            DataKit.Key(ml).Append(model), ignoreMissingColumns: true);
        var first = Datasets.FashionMnist.ReadBytes(train: false, take: 1)[0];
        var one = engine.Predict(first).Score;
        Assert.True(scores[0].Zip(one).All(p => Math.Abs(p.First - p.Second) < 1e-5), "row-by-row scores differ from batched ones");

        // ONNX graph: the scaling is part of it (input: the byte values as floats).
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream);
        var rows = Datasets.FashionMnist.ReadBytes(train: false, take: 200).Select(r => r.Features.Select(b => (float)b).ToArray()).ToArray();
        var onnx = Onnx.OnnxTestSupport.RunOnnx(stream.ToArray(), rows, 64);
        double worst = scores.SelectMany(s => s).Zip(onnx["Score"].Cast<float>()).Max(p => Math.Abs(p.First - p.Second));
        _out.WriteLine($"ONNX vs Transform max abs diff {worst:G3}");
        Assert.True(worst < 1e-4, $"max abs diff {worst}");

        // An ML.NET model zip (OnnxTransformer over the graph, the Byte column converted to Single in front of it).
        var zip = Path.Combine(Path.GetTempPath(), $"mlnetdeep-bytes-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, test.Schema, zip);
            var fromZip = new MLContext(seed: 1).Model.Load(zip, out _).Transform(test).GetColumn<float[]>("Score").ToArray();
            double zipDiff = scores.SelectMany(s => s).Zip(fromZip.SelectMany(s => s)).Max(p => Math.Abs(p.First - p.Second));
            _out.WriteLine($"ML.NET zip vs Transform max abs diff {zipDiff:G3}");
            Assert.True(zipDiff < 1e-4, $"max abs diff {zipDiff}");
        }
        finally { File.Delete(zip); }

        var e = Assert.Throws<ArgumentException>(() => model.Transform(DataKit.Floats(ml, 10, test: true)).GetColumn<float[]>("Score").ToArray());
        _out.WriteLine(e.Message);
        Assert.Contains("Column 'Features' has type Vector<Single, 784>", e.Message);
        Assert.Contains("ByteScaling.SymmetricRange", e.Message);
    }

    [Fact]
    public void Unscaled_bytes_get_the_unscaled_feature_warning_and_models_trained_on_them_save_no_scaling()
    {
        var lines = new List<string>();
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) => { if (e.Source == "MLNetDeep") lock (lines) lines.Add(e.RawMessage); };
        using var model = ml.MulticlassClassification.Trainers.Cnn(DataKit.Cnn(new DataOptions(), epochs: 1)).Fit(DataKit.Bytes(ml, 300));
        Assert.Null(model.Description.ByteScaling);
        Assert.Contains(lines, l => l.StartsWith("Feature values reach 255"));
        Assert.Contains(lines, l => l.Contains("(Byte features kept as bytes)"));
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }
}
