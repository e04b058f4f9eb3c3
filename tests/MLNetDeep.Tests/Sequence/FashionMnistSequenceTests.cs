using Microsoft.ML;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using MLNetDeep.Models.Sequence;

namespace MLNetDeep.Tests.Sequence;

/// <summary>Real data: each Fashion-MNIST image read as 28 steps (rows) of 28 pixels, through ordinary ML.NET pipelines.</summary>
[Trait("Category", "Training")]
public class FashionMnistSequenceTests
{
    private readonly ITestOutputHelper _out;
    public FashionMnistSequenceTests(ITestOutputHelper output) => _out = output;

    private double TestAccuracy(Func<MLContext, IEstimator<ITransformer>> trainer, int trainRows)
    {
        var ml = new MLContext(seed: 1);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(trainer(ml));
        var model = pipeline.Fit(TestData.TrainView(ml, trainRows));
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(TestData.TestView(ml, 2000)));
        _out.WriteLine($"test accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:F4}");
        return metrics.MicroAccuracy;
    }

    [Fact]
    public void Lstm_reading_images_row_by_row_is_clearly_above_080_test_accuracy()
    {
        double accuracy = TestAccuracy(ml => ml.MulticlassClassification.Trainers.Lstm(new NumericSequence(28), hiddenSize: 64,
            epochs: 5, batchSize: 64, learningRate: 1e-2), 12000);
        Assert.True(accuracy > 0.82, $"test accuracy {accuracy:F4}");
    }

    [Fact]
    public void Gru_reading_images_row_by_row_is_clearly_above_080_test_accuracy()
    {
        double accuracy = TestAccuracy(ml => ml.MulticlassClassification.Trainers.Gru(new NumericSequence(28), hiddenSize: 64,
            epochs: 3, batchSize: 64, learningRate: 1e-2), 12000);
        Assert.True(accuracy > 0.82, $"test accuracy {accuracy:F4}");
    }
}
