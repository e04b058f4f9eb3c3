using Xunit;
using Microsoft.ML;
using MLNetDeep.Optimizers;
using MLNetDeep.Training;
using Xunit.Abstractions;
using MLNetDeep.Models.Cnn;

namespace MLNetDeep.Tests.Optimizers;

[Trait("Category", "Unit")]
public class SgdTests
{
    private readonly ITestOutputHelper _log;
    public SgdTests(ITestOutputHelper log) => _log = log;

    // Reference: g ← ∇ + λw; b ← μb + g (b₁ = g); d = Nesterov ? g + μb : b; w ← w − lr·d.
    private static List<double[]> Reference(double lr, double momentum, bool nesterov, double decay, int steps)
    {
        var w = (double[])TinyProblem.Start.Clone();
        double[]? b = null;
        var path = new List<double[]>();
        for (int s = 0; s < steps; s++)
        {
            var g = TinyProblem.Gradient(w).Select((x, i) => x + decay * w[i]).ToArray();
            var d = g;
            if (momentum > 0)
            {
                b = b is null ? g : b.Select((x, i) => momentum * x + g[i]).ToArray();
                d = nesterov ? g.Select((x, i) => x + momentum * b[i]).ToArray() : b;
            }
            w = w.Select((x, i) => x - lr * d[i]).ToArray();
            path.Add(w);
        }
        return path;
    }

    [Fact]
    public void PlainStepIsLearningRateTimesGradient()
    {
        // By hand: g(Start) = (1·(1.5−0.5), 4·(0.5+1), 0.25·(−1−2)) = (1, 6, −0.75); w₁ = Start − 0.1·g.
        var path = TinyProblem.Run(new Sgd { LearningRate = 0.1 }, 1);
        TinyProblem.AssertSamePath(new[] { new[] { 1.4, -0.1, -0.925 } }, path);
    }

    [Theory]
    [InlineData(0.0, false, 0.0)]
    [InlineData(0.9, false, 0.0)]
    [InlineData(0.9, true, 0.0)]
    [InlineData(0.5, false, 0.01)]
    public void ThreeStepsMatchTheUpdateRule(double momentum, bool nesterov, double decay)
    {
        var options = new Sgd { LearningRate = 0.05, Momentum = momentum, Nesterov = nesterov, CoupledWeightDecay = decay };
        TinyProblem.AssertSamePath(Reference(0.05, momentum, nesterov, decay, 3), TinyProblem.Run(options, 3));
    }

    [Fact]
    public void NesterovWithoutMomentumIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new Sgd { Nesterov = true }.Validate());
        Assert.Contains("Momentum > 0", e.Message);
    }

    [Fact]
    public void MomentumOutOfRangeIsRejectedWithTheValue()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd { Momentum = 1.5 }.Validate());
        Assert.Contains("Sgd.Momentum must be in [0, 1). Received: Momentum=1.5", e.Message);
    }

    [Fact]
    public void NameReflectsTheVariant()
    {
        Assert.Equal("sgd", new Sgd().Name);
        Assert.Equal("momentum", new Sgd { Momentum = 0.9 }.Name);
        Assert.Equal("nesterov", new Sgd { Momentum = 0.9, Nesterov = true }.Name);
        Assert.Equal(0.01, new Sgd().LearningRate);
    }

    [Fact]
    public void TrainsAnMlp()
    {
        double accuracy = RealTraining.Mlp(new Sgd { LearningRate = 0.05, Momentum = 0.9 }, _log);
        Assert.True(accuracy > 0.7, $"test accuracy {accuracy:F3}");
    }

    [Fact]
    public void FullBatchIsOneStepPerEpoch()
    {
        // Batch gradient descent: BatchSize = FullBatch gives exactly one update per epoch.
        var counter = new BatchCounter();
        var ml = new Microsoft.ML.MLContext(1);
        var data = Support.TestData.TrainView(ml, 200);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        using var model = ml.MulticlassClassification.Trainers.Cnn(new Models.Cnn.CnnOptions
        {
            ImageShape = new Models.Cnn.ImageShape(1, 28, 28),
            Layers = new(),
            Head = new Models.DenseHead { HiddenSizes = new(), InputDropout = 0, Dropout = 0 },
            Epochs = 3,
            BatchSize = TrainerOptions.FullBatch,
            Optimizer = new Sgd { LearningRate = 0.1 },
            Callbacks = { counter },
        }).Fit(keyed);
        Assert.Equal(3, counter.Batches);
        Assert.True(model.History.Epochs[^1].TrainLoss < model.History.Epochs[0].TrainLoss);
    }

    private sealed class BatchCounter : TrainingCallback
    {
        public int Batches;
        public override void OnBatchEnd(TrainingContext context, int batch, double loss) => Batches++;
    }
}
