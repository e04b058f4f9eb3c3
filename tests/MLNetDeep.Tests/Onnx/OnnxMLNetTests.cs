using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using MLNetDeep.Scoring;
using MLNetDeep.Training;
using Xunit;
using Xunit.Abstractions;
using static MLNetDeep.Tests.Onnx.OnnxTestSupport;
using MLNetDeep.Tasks;

namespace MLNetDeep.Tests.Onnx;

/// <summary>
/// Real ONNX consumers: ML.NET's ApplyOnnxModel on the exported file, and mlContext.Model.Save / Load of
/// whole pipelines holding an MLNetDeep model (forwarded to OnnxTransformer + MapValueToKey).
/// </summary>
[Trait("Category", "Unit")]
public sealed class OnnxMLNetTests : IDisposable
{
    private readonly ITestOutputHelper _out;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-onnx-" + Guid.NewGuid().ToString("N"));

    public OnnxMLNetTests(ITestOutputHelper output)
    {
        _out = output;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CnnOptions SmallCnn() => new()
    {
        ImageShape = new ImageShape(1, 28, 28),
        Layers = new() { new ConvBlock(8, 3, PoolingKind.Max), new ResidualBlock(8, 2) },
        Head = new() { HiddenSizes = new() { 16 } },
    };

    [Fact]
    public void ExportedFile_HasDocumentedInputsOutputsAndMetadata()
    {
        var ml = new MLContext(seed: 1);
        var (_, model) = Train(ml, PredictionKind.MulticlassClassification, SmallCnn());
        var path = Path.Combine(_dir, "model.onnx");
        model.ExportToOnnx(path);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp", SearchOption.AllDirectories));

        using var session = new InferenceSession(path);
        var input = Assert.Single(session.InputMetadata);
        Assert.Equal("Features", input.Key);
        Assert.Equal(new[] { -1, 784 }, input.Value.Dimensions);
        Assert.Equal(new[] { "Score", "PredictedLabel" }, session.OutputMetadata.Keys);
        Assert.Equal(new[] { -1, 10 }, session.OutputMetadata["Score"].Dimensions);
        Assert.Equal(new[] { -1 }, session.OutputMetadata["PredictedLabel"].Dimensions);
        Assert.Equal("MLNetDeep", session.ModelMetadata.ProducerName);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal(model.ClassNames, System.Text.Json.JsonSerializer.Deserialize<string[]>(meta[OnnxNames.ClassNamesKey]));
        Assert.Equal("MulticlassClassification", meta[OnnxNames.PredictionKindKey]);
        Assert.Equal("1x28x28", meta[OnnxNames.InputShapeKey]);
        Assert.Equal("Features", meta[OnnxNames.FeatureColumnKey]);

        // a custom input name
        using var s = new MemoryStream();
        model.ExportToOnnx(s, new OnnxExportOptions { InputName = "pixels" });
        using var renamed = new InferenceSession(s.ToArray());
        Assert.Equal("pixels", Assert.Single(renamed.InputMetadata).Key);
    }

    [Fact]
    public void ApplyOnnxModel_OnTheExportedFile_ScoresLikeTheTransformer()
    {
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = Train(ml, PredictionKind.MulticlassClassification, SmallCnn());
        var path = Path.Combine(_dir, "model.onnx");
        model.ExportToOnnx(path);
        var test = TestView(ml, PredictionKind.MulticlassClassification);

        var onnx = ml.Transforms.ApplyOnnxModel(path).Fit(test);
        var scored = onnx.Transform(test);
        var onnxScores = scored.GetColumn<float[]>("Score").ToArray();
        var onnxLabels = scored.GetColumn<VBuffer<ReadOnlyMemory<char>>>("PredictedLabel").Select(v => v.GetValues()[0].ToString()).ToArray();
        var ours = pipeline.Transform(test);
        var ourScores = ours.GetColumn<float[]>("Score").ToArray();
        var ourLabels = ours.GetColumn<uint>("PredictedLabel").Select(k => model.ClassNames[(int)k - 1]).ToArray();

        double diff = ourScores.Zip(onnxScores).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        _out.WriteLine($"ApplyOnnxModel max abs diff {diff:G3}");
        Assert.Equal(TestRows, onnxScores.Length);
        Assert.All(onnxScores, s => Assert.Equal(10, s.Length));
        Assert.True(diff <= Tolerance, $"max abs diff {diff}");
        Assert.Equal(ourLabels, onnxLabels);
    }

    [Fact]
    public void ModelSave_MulticlassPipelineWithMapKeyToValue_LoadsAndScoresIdentically()
    {
        var ml = new MLContext(seed: 1);
        var train = TrainView(ml, PredictionKind.MulticlassClassification);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Cnn(Configure(SmallCnn())))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(train);
        var path = Path.Combine(_dir, "pipeline.zip");
        ml.Model.Save(model, train.Schema, path);

        var fresh = new MLContext(seed: 2);
        var loaded = fresh.Model.Load(path, out var inputSchema);
        Assert.NotNull(inputSchema.GetColumnOrNull("Features"));
        var test = TestView(ml, PredictionKind.MulticlassClassification);

        var a = model.Transform(test);
        var b = loaded.Transform(test);
        Assert.Equal(a.Schema["Score"].Type, b.Schema["Score"].Type);
        Assert.Equal(TextDataViewType.Instance, b.Schema["PredictedLabel"].Type);
        var sa = a.GetColumn<float[]>("Score").ToArray();
        var sb = b.GetColumn<float[]>("Score").ToArray();
        double diff = sa.Zip(sb).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        _out.WriteLine($"Model.Save/Load multiclass max abs diff {diff:G3}");
        Assert.True(diff <= Tolerance, $"max abs diff {diff}");
        Assert.Equal(a.GetColumn<string>("PredictedLabel"), b.GetColumn<string>("PredictedLabel"));

        // Evaluators and PredictionEngine work on the loaded pipeline as on the original.
        var ma = ml.MulticlassClassification.Evaluate(a);
        var mb = fresh.MulticlassClassification.Evaluate(b);
        Assert.Equal(ma.MicroAccuracy, mb.MicroAccuracy);
        Assert.Equal(ma.LogLoss, mb.LogLoss, 4);
        var engine = fresh.Model.CreatePredictionEngine<Datasets.FashionMnistImage, StringPrediction>(loaded);
        var first = Support.TestData.TestImages(1)[0];
        Assert.Equal(a.GetColumn<string>("PredictedLabel").First(), engine.Predict(first).PredictedLabel);
    }

    [Fact]
    public void ModelSave_WithoutMapKeyToValue_KeepsPredictedLabelAsKeyWithClassNames()
    {
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = Train(ml, PredictionKind.MulticlassClassification, SmallCnn());
        var train = TrainView(ml, PredictionKind.MulticlassClassification);
        var path = Path.Combine(_dir, "keys.zip");
        ml.Model.Save(pipeline, train.Schema, path);
        var loaded = ml.Model.Load(path, out _);
        var test = TestView(ml, PredictionKind.MulticlassClassification);
        var b = loaded.Transform(test);
        var keyType = Assert.IsType<KeyDataViewType>(b.Schema["PredictedLabel"].Type);
        Assert.Equal(10ul, keyType.Count);
        VBuffer<ReadOnlyMemory<char>> keyValues = default;
        b.Schema["PredictedLabel"].GetKeyValues(ref keyValues);
        Assert.Equal(model.ClassNames, keyValues.DenseValues().Select(v => v.ToString()));
        Assert.Equal(pipeline.Transform(test).GetColumn<uint>("PredictedLabel"), b.GetColumn<uint>("PredictedLabel"));
    }

    [Theory]
    [InlineData(PredictionKind.BinaryClassification)]
    [InlineData(PredictionKind.Regression)]
    public void ModelSave_BinaryAndRegression_ScalarColumnsAndMetricsSurvive(PredictionKind kind)
    {
        var ml = new MLContext(seed: 1);
        var (pipeline, _) = Train(ml, kind, SmallCnn());
        var train = TrainView(ml, kind);
        var path = Path.Combine(_dir, $"{kind}.zip");
        ml.Model.Save(pipeline, train.Schema, path);
        var loaded = ml.Model.Load(path, out _);
        var test = TestView(ml, kind);
        var a = pipeline.Transform(test);
        var b = loaded.Transform(test);
        foreach (var column in kind == PredictionKind.Regression ? new[] { "Score" } : new[] { "Score", "Probability", "PredictedLabel" })
            Assert.Equal(a.Schema[column].Type, b.Schema[column].Type);
        var sa = a.GetColumn<float>("Score").ToArray();
        var sb = b.GetColumn<float>("Score").ToArray();
        double diff = sa.Zip(sb).Max(p => Math.Abs(p.First - p.Second));
        _out.WriteLine($"Model.Save/Load {kind} max abs diff {diff:G3}");
        Assert.True(diff <= Tolerance, $"max abs diff {diff}");
        if (kind == PredictionKind.BinaryClassification)
        {
            Assert.Equal(a.GetColumn<bool>("PredictedLabel"), b.GetColumn<bool>("PredictedLabel"));
            Assert.Equal(ml.BinaryClassification.Evaluate(a).Accuracy, ml.BinaryClassification.Evaluate(b).Accuracy);
        }
        else
            Assert.Equal(ml.Regression.Evaluate(a).RootMeanSquaredError, ml.Regression.Evaluate(b).RootMeanSquaredError, 3);
    }

    private static CnnOptions Configure(CnnOptions o)
    {
        o.Epochs = 1;
        o.BatchSize = 32;
        o.Device = MLNetDeep.Runtime.ComputeDevice.Cpu;
        return o;
    }

    private sealed class StringPrediction
    {
        public string PredictedLabel { get; set; } = "";
    }
}

/// <summary>A Fashion-MNIST image with Double pixels (as from a loader typed R8).</summary>
public sealed class DoubleImage
{
    [VectorType(784)] public double[] Features { get; set; } = Array.Empty<double>();
    public string Label { get; set; } = "";
}

[Trait("Category", "Unit")]
public sealed class OnnxMLNetDoubleFeatureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mlnetdeep-double-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ModelSave_of_a_CNN_trained_on_Double_features_scores_the_same_after_Load()
    {
        var ml = new MLContext(seed: 1);
        IDataView View(List<MLNetDeep.Datasets.FashionMnistImage> images) =>
            ml.Data.LoadFromEnumerable(images.Select(i => new DoubleImage { Features = i.Features.Select(v => (double)v).ToArray(), Label = i.Label }));
        var train = View(Support.TestData.TrainImages(128));
        var test = View(Support.TestData.TestImages(32));
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Cnn(new CnnOptions { ImageShape = new Models.Cnn.ImageShape(1, 28, 28), Epochs = 1, BatchSize = 32 }))
            .Fit(train);
        var path = Path.Combine(_dir, "double.zip");
        ml.Model.Save(model, train.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);
        var a = model.Transform(test).GetColumn<float[]>("Score").ToArray();
        var b = loaded.Transform(test).GetColumn<float[]>("Score").ToArray();
        double diff = a.Zip(b).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        Assert.True(diff <= OnnxTestSupport.Tolerance, $"max abs diff {diff}");
    }
}
