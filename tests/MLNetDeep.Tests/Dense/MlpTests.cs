using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Activations;
using MLNetDeep.Models;
using MLNetDeep.Models.Dense;
using MLNetDeep.Onnx;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Dense;

/// <summary>The MLP trainers on real tables (Debian's r-cran-mlbench): accuracy, save/load, ONNX, Model.Save and bad input.</summary>
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
    public void Multiclass_LetterRecognition_ReachesHighAccuracy()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = TabularData.Letters(ml);
        var pipeline = TabularData.LetterFeaturisation(ml)
            .Append(ml.MulticlassClassification.Trainers.Mlp(new[] { 256, 256 }, epochs: 12, batchSize: 64, learningRate: 3e-3));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var model = pipeline.Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        _out.WriteLine($"LetterRecognition MLP 256-256, 12 epochs: accuracy {metrics.MicroAccuracy:F4}, {sw.Elapsed.TotalSeconds:F1}s");
        Assert.True(metrics.MicroAccuracy > 0.93, $"test accuracy {metrics.MicroAccuracy:F4}");
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
        Assert.True(metrics.Accuracy > 0.94, $"accuracy {metrics.Accuracy:F4}");
        Assert.True(metrics.AreaUnderRocCurve > 0.97, $"AUC {metrics.AreaUnderRocCurve:F4}");
    }

    [Fact]
    public void Regression_BostonHousing_BeatsTheMeanByFar()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = TabularData.Boston(ml);
        var options = new MlpOptions { HiddenSizes = new() { 64, 64 }, Epochs = 60, BatchSize = 32, Optimizer = new Adam { LearningRate = 3e-3 }, Dropout = 0 };
        var model = TabularData.BostonFeaturisation(ml).Append(ml.Regression.Trainers.Mlp(options)).Fit(train);
        var metrics = ml.Regression.Evaluate(model.Transform(test));
        var labels = test.GetColumn<float>("medv").ToArray();
        double sd = Math.Sqrt(labels.Select(v => (v - labels.Average()) * (v - labels.Average())).Average());
        _out.WriteLine($"BostonHousing MLP: rmse {metrics.RootMeanSquaredError:F3} (label sd {sd:F3}), R² {metrics.RSquared:F3}");
        Assert.True(metrics.RSquared > 0.75, $"R² {metrics.RSquared:F3}");
    }
}
