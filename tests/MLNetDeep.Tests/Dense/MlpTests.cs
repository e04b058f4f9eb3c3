using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Activations;
using MLNetDeep.Models;
using MLNetDeep.Models.Dense;
using MLNetDeep.Optimizers;
using MLNetDeep.Pretraining;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static MLNetDeep.Tests.Onnx.OnnxTestSupport;

namespace MLNetDeep.Tests.Dense;

/// <summary>The MLP trainers on real tables (Debian's r-cran-mlbench): accuracy, save/load, ONNX, Model.Save, depth and bad input.</summary>
[Trait("Category", "Training")]
public sealed class MlpTests : IDisposable
{
    private readonly ITestOutputHelper _out;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-mlp-" + Guid.NewGuid().ToString("N"));

    public MlpTests(ITestOutputHelper output)
    {
        _out = output;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Multiclass_LetterRecognition_PlainArguments_ReachesHighAccuracy()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = TabularData.Letters(ml);
        var pipeline = TabularData.LetterFeaturisation(ml)
            .Append(ml.MulticlassClassification.Trainers.Mlp(new[] { 256, 256 }, epochs: 6, batchSize: 128, learningRate: 3e-3));
        var model = pipeline.Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        _out.WriteLine($"LetterRecognition MLP 256-256, 6 epochs: accuracy {metrics.MicroAccuracy:F4}");
        Assert.True(metrics.MicroAccuracy > 0.89, $"test accuracy {metrics.MicroAccuracy:F4}"); // measured 0.9113
    }

    [Fact]
    public void Binary_BreastCancer_OneHotGrades_ClassifiesWell()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = TabularData.BreastCancer(ml);
        var pipeline = TabularData.BreastCancerFeaturisation(ml).Append(ml.BinaryClassification.Trainers.Mlp(new[] { 32 }, epochs: 20, batchSize: 32));
        var model = pipeline.Fit(train);
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));
        _out.WriteLine($"BreastCancer MLP: accuracy {metrics.Accuracy:F4}, AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.True(metrics.Accuracy > 0.94, $"accuracy {metrics.Accuracy:F4}");          // measured 0.9811
        Assert.True(metrics.AreaUnderRocCurve > 0.97, $"AUC {metrics.AreaUnderRocCurve:F4}"); // measured 0.9962
    }

    [Fact]
    public void Regression_BostonHousing_BatchNorm_ExplainsMostOfTheVariance()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = TabularData.Boston(ml);
        var options = new MlpOptions
        {
            HiddenSizes = new() { 128, 128 }, BatchNorm = true, Dropout = 0, Epochs = 100, BatchSize = 32, Optimizer = new Adam { LearningRate = 3e-3 },
        };
        var model = TabularData.BostonFeaturisation(ml).Append(ml.Regression.Trainers.Mlp(options)).Fit(train);
        var metrics = ml.Regression.Evaluate(model.Transform(test));
        _out.WriteLine($"BostonHousing MLP: rmse {metrics.RootMeanSquaredError:F3}, R² {metrics.RSquared:F3}");
        Assert.True(metrics.RSquared > 0.72, $"R² {metrics.RSquared:F3}"); // measured 0.777 (rmse 4.04 k$)
    }

    /// <summary>
    /// The notes' vanishing-gradient case: 20 sigmoid layers of 64 units, no batch norm. The plain stack stays at chance (the
    /// gradient that reaches the first layers is tiny); with skip connections the same stack trains.
    /// </summary>
    [Fact]
    public void Residual_TwentySigmoidLayers_TrainWhereThePlainStackStalls()
    {
        double Accuracy(bool residual)
        {
            var ml = new MLContext(seed: 1);
            var o = new MlpOptions { HiddenSizes = Enumerable.Repeat(64, 20).ToList(), Activation = new Sigmoid(), Dropout = 0, Residual = residual, Epochs = 2 };
            var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.Mlp(o)).Fit(TestData.TrainView(ml, 3000));
            return ml.MulticlassClassification.Evaluate(model.Transform(TestData.TestView(ml, 1000))).MicroAccuracy;
        }
        double plain = Accuracy(false), residual = Accuracy(true);
        _out.WriteLine($"20 sigmoid layers on Fashion-MNIST: plain {plain:F4}, residual {residual:F4}");
        Assert.True(plain < 0.25, $"plain stack accuracy {plain:F4} (expected to stall near 0.10)");
        Assert.True(residual > 0.6, $"residual stack accuracy {residual:F4}");
    }

    [Theory]
    [InlineData(BatchNormPlacement.BeforeActivation, false)]
    [InlineData(BatchNormPlacement.AfterActivation, true)]
    [InlineData(BatchNormPlacement.BeforeActivation, true)]
    public void SavedLoadedOnnxAndModelSave_ScoreLikeTheTrainedModel(BatchNormPlacement placement, bool residual)
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = TabularData.Letters(ml, take: 2000);
        var options = new MlpOptions { HiddenSizes = new() { 32, 32, 32 }, BatchNorm = true, BatchNormPlacement = placement, Residual = residual, Epochs = 1 };
        var pipeline = TabularData.LetterFeaturisation(ml).Append(ml.MulticlassClassification.Trainers.Mlp(options)).Fit(train);
        var model = pipeline.GetDeepTransformer();
        var expected = pipeline.Transform(test).GetColumn<float[]>("Score").ToArray();
        Assert.IsType<MlpArchitecture>(model.Description.Architecture);

        // own format
        var path = Path.Combine(_dir, "mlp.mlnd");
        model.Save(path);
        using (var loaded = DeepTransformer.Load(path))
        {
            var features = pipeline.Transform(test);
            var again = loaded.Transform(features).GetColumn<float[]>("Score").ToArray();
            Assert.Equal(expected.SelectMany(s => s), again.SelectMany(s => s));
        }

        // ONNX, scored by ONNX Runtime on the normalised features
        using var onnx = new MemoryStream();
        model.ExportToOnnx(onnx);
        var rows = ((IDataView)pipeline.Transform(test)).GetColumn<float[]>("Features").ToArray();
        var ort = RunOnnx(onnx.ToArray(), rows, 256);
        var ortScores = ort["Score"].Cast<float>().ToArray();
        double onnxDiff = expected.SelectMany(s => s).Zip(ortScores, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(onnxDiff < 1e-4, $"ONNX Runtime differs by {onnxDiff:G3}");

        // the whole pipeline through mlContext.Model.Save (featurisation + MLP as ONNX Runtime transformers)
        var zip = Path.Combine(_dir, "pipeline.zip");
        ml.Model.Save(pipeline, train.Schema, zip);
        var reloaded = ml.Model.Load(zip, out _);
        var scored = reloaded.Transform(test);
        double zipDiff = expected.SelectMany(s => s).Zip(scored.GetColumn<float[]>("Score").SelectMany(s => s), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(zipDiff < 1e-4, $"Model.Save/Load differs by {zipDiff:G3}");
        var m1 = ml.MulticlassClassification.Evaluate(pipeline.Transform(test));
        var m2 = ml.MulticlassClassification.Evaluate(scored);
        Assert.Equal(m1.MicroAccuracy, m2.MicroAccuracy, 6);
        _out.WriteLine($"{placement}, residual={residual}: ONNX diff {onnxDiff:G3}, Model.Save diff {zipDiff:G3}, accuracy {m1.MicroAccuracy:F4}");
    }

    [Fact]
    public void SameSeed_SameWeights_AndTheOptionsAreNotChanged()
    {
        var ml = new MLContext(seed: 3);
        var (train, _) = TabularData.Letters(ml, take: 1000);
        var data = TabularData.LetterFeaturisation(ml).Fit(train).Transform(train);
        var options = new MlpOptions { HiddenSizes = new() { 16, 16 }, Epochs = 1, Seed = 7, Residual = true };
        string before = System.Text.Json.JsonSerializer.Serialize(options.HiddenSizes) + options.Residual + options.Dropout + options.Epochs;
        using var a = ml.MulticlassClassification.Trainers.Mlp(options).Fit(data);
        using var b = ml.MulticlassClassification.Trainers.Mlp(options).Fit(data);
        var wa = a.Network.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();
        var wb = b.Network.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();
        Assert.Equal(wa, wb);
        Assert.Equal(before, System.Text.Json.JsonSerializer.Serialize(options.HiddenSizes) + options.Residual + options.Dropout + options.Epochs);
        // module names are the dense head's, so pretraining, transfer and diagnostics find the layers
        Assert.Contains(a.Network.named_parameters(), p => p.name == "head.layers.dense1.weight");
        Assert.Contains(a.Network.named_parameters(), p => p.name == "head.layers.output.weight");
    }

    [Fact]
    public void LayerwisePretraining_PretrainsEveryHiddenLayer_AndRefusesSkipConnections()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = TabularData.Letters(ml, take: 1000);
        var data = TabularData.LetterFeaturisation(ml).Fit(train).Transform(train);
        var options = new MlpOptions { HiddenSizes = new() { 32, 16 }, Epochs = 1, Pretraining = new PretrainingOptions { EpochsPerLayer = 2 } };
        using var model = ml.MulticlassClassification.Trainers.Mlp(options).Fit(data);
        Assert.Equal(new[] { "head.layers.dense0", "head.layers.dense1" }, model.History.Pretraining.Select(p => p.Layer));
        Assert.All(model.History.Pretraining, p => Assert.True(p.ReconstructionLoss[^1] < p.ReconstructionLoss[0]));

        var residual = options.Clone();
        residual.HiddenSizes = new() { 16, 16 };
        residual.Residual = true;
        var e = Assert.Throws<NotSupportedException>(() => ml.MulticlassClassification.Trainers.Mlp(residual).Fit(data));
        Assert.Contains("Residual = false", e.Message);
    }

    [Fact]
    public void BadInput_GetsMessagesNamingTheOptionOrColumnAndTheFix()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = TabularData.Letters(ml, take: 200);
        var data = TabularData.LetterFeaturisation(ml).Fit(train).Transform(train);

        var e1 = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.Mlp(new MlpOptions { HiddenSizes = new() { 64, -3 } }).Fit(data));
        Assert.Contains("HiddenSizes[1] must be > 0. Received: -3", e1.Message);

        var e2 = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.Mlp(new MlpOptions { HiddenSizes = new() { 64, 32 }, Residual = true }).Fit(data));
        Assert.Contains("Received: HiddenSizes=[64, 32]", e2.Message);

        // a variable-size vector (what TokenizeIntoWords-like transforms give) is refused by name
        var rows = new[] { new VarRow { Features = new float[] { 1, 2 }, Label = "a" }, new VarRow { Features = new float[] { 3 }, Label = "b" } };
        var variable = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var e3 = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.Mlp().Fit(variable));
        Assert.Contains("'Features' is a vector of variable size", e3.Message);
        Assert.Contains("Concatenate", e3.Message);

        // a scalar feature column
        var e4 = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.Mlp(featureColumnName: "x.box").Fit(data));
        Assert.Contains("x.box", e4.Message);
    }

    private sealed class VarRow
    {
        [VectorType] public float[] Features { get; set; } = Array.Empty<float>();
        public string Label { get; set; } = "";
    }
}
