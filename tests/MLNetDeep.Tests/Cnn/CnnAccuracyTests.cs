using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Cnn;

/// <summary>The three CNN tasks learn on real Fashion-MNIST through ordinary ML.NET pipelines.</summary>
[Trait("Category", "Training")]
public class CnnAccuracyTests
{
    private readonly ITestOutputHelper _out;
    public CnnAccuracyTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void Multiclass_pipeline_reaches_085_test_accuracy_on_a_FashionMnist_subset()
    {
        var ml = new MLContext(seed: 1);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
            {
                ImageShape = new ImageShape(1, 28, 28),
                Layers = new() { new ConvBlock(16, 3, PoolingKind.Max), new ConvBlock(32, 3, PoolingKind.Max) },
                Head = new Models.DenseHead { HiddenSizes = new() { 64 }, Dropout = 0.3, InputDropout = 0.1 },
                Epochs = 5,
                BatchSize = 64,
                Optimizer = new Adam { LearningRate = 2e-3 },
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(TestData.TrainView(ml, 12000));
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(TestData.TestView(ml, 3000)));
        _out.WriteLine($"micro accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:F4}");
        Assert.True(metrics.MicroAccuracy >= 0.85, $"test accuracy {metrics.MicroAccuracy:F4} < 0.85");
        Assert.True(metrics.LogLoss < 0.45, $"log-loss {metrics.LogLoss:F4}");
    }

    private sealed class BinaryRow
    {
        [VectorType(784)] public float[] Features { get; set; } = Array.Empty<float>();
        public bool Label { get; set; }
    }

    [Fact]
    public void Binary_shirt_versus_tshirt_learns_well_above_chance()
    {
        // A hard pair: T-shirt/top vs Shirt (the classes multiclass models confuse most).
        var ml = new MLContext(seed: 1);
        BinaryRow[] Rows(IEnumerable<Datasets.FashionMnistImage> images) => images
            .Where(i => i.Label is "Shirt" or "T-shirt/top")
            .Select(i => new BinaryRow { Features = i.Features, Label = i.Label == "Shirt" }).ToArray();
        var train = ml.Data.LoadFromEnumerable(Rows(TestData.TrainImages(20000)));
        var test = ml.Data.LoadFromEnumerable(Rows(TestData.TestImages(10000)));
        var options = Tiny.Options(epochs: 4);
        var model = ml.BinaryClassification.Trainers.Cnn(options).Fit(train);
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));
        _out.WriteLine($"accuracy {metrics.Accuracy:F4}, AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.True(metrics.Accuracy > 0.78, $"accuracy {metrics.Accuracy:F4}");
        Assert.True(metrics.AreaUnderRocCurve > 0.85, $"AUC {metrics.AreaUnderRocCurve:F4}");
    }

    private sealed class RegressionRow
    {
        [VectorType(784)] public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    [Fact]
    public void Regression_predicts_the_hidden_lower_half_ink_far_better_than_the_mean()
    {
        // Target: mean intensity of the lower half of the image, which the model never sees (zeroed);
        // it must infer it from the upper half (garment type and shape). Baseline: always predict the mean.
        var ml = new MLContext(seed: 1);
        RegressionRow[] Rows(IEnumerable<Datasets.FashionMnistImage> images) => images.Select(i =>
        {
            var f = (float[])i.Features.Clone();
            float ink = 0;
            for (int p = 14 * 28; p < 784; p++) { ink += f[p]; f[p] = 0; }
            return new RegressionRow { Features = f, Label = 100 * ink / (14 * 28) };
        }).ToArray();
        var trainRows = Rows(TestData.TrainImages(6000));
        var testRows = Rows(TestData.TestImages(2000));
        var model = ml.Regression.Trainers.Cnn(Tiny.Options(epochs: 4)).Fit(ml.Data.LoadFromEnumerable(trainRows));
        var metrics = ml.Regression.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(testRows)));
        double mean = trainRows.Average(r => r.Label);
        double baseline = Math.Sqrt(testRows.Average(r => (r.Label - mean) * (r.Label - mean)));
        _out.WriteLine($"RMSE {metrics.RootMeanSquaredError:F3} vs mean-baseline {baseline:F3}, R² {metrics.RSquared:F3}");
        Assert.True(metrics.RootMeanSquaredError < 0.6 * baseline, $"RMSE {metrics.RootMeanSquaredError:F3} vs baseline {baseline:F3}");
    }

    [Fact]
    public void Residual_blocks_strided_same_padding_and_global_average_pooling_train()
    {
        var ml = new MLContext(seed: 1);
        var options = Tiny.Options(epochs: 2);
        options.Layers = new()
        {
            new ConvBlock(8, 5) { Stride = 2, Activation = new MLNetDeep.Activations.Elu() },   // 28 → 14, asymmetric same padding
            new ResidualBlock(16, stride: 2),                                          // 14 → 7 with a projection shortcut
            new ResidualBlock(16) { BatchNorm = false, Pooling = PoolingKind.Average },// identity shortcut, 7 → 3
        };
        options.Flatten = FlattenMode.GlobalAveragePool;
        var model = Tiny.Multiclass(ml, options).Fit(TestData.TrainView(ml, 3000));
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(TestData.TestView(ml, 1000)));
        _out.WriteLine($"accuracy {metrics.MicroAccuracy:F4}");
        Assert.True(metrics.MicroAccuracy > 0.6, $"accuracy {metrics.MicroAccuracy:F4}");
    }
}
