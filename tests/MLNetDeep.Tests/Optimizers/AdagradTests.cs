using MLNetDeep.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Optimizers;

[Trait("Category", "Unit")]
public class AdagradTests
{
    private readonly ITestOutputHelper _log;
    public AdagradTests(ITestOutputHelper log) => _log = log;

    // Reference (Duchi et al.): s ← s + g²; w ← w − lr·g/(√s + ε), s₀ = initial accumulator.
    private static List<double[]> Reference(double lr, double s0, double eps, double decay, int steps)
    {
        var w = (double[])TinyProblem.Start.Clone();
        var s = w.Select(_ => s0).ToArray();
        var path = new List<double[]>();
        for (int k = 0; k < steps; k++)
        {
            var g = TinyProblem.Gradient(w).Select((x, i) => x + decay * w[i]).ToArray();
            for (int i = 0; i < w.Length; i++)
            {
                s[i] += g[i] * g[i];
                w[i] -= lr * g[i] / (Math.Sqrt(s[i]) + eps);
            }
            path.Add((double[])w.Clone());
        }
        return path;
    }

    [Fact]
    public void FirstStepByHand()
    {
        // g = (1, 6, −0.75), s = 0.1 + g² = (1.1, 36.1, 0.6625); w₁ = w₀ − 0.1·g/√s.
        var path = TinyProblem.Run(new Adagrad { LearningRate = 0.1, Epsilon = 1e-300 }, 1);
        var expected = new[] { 1.5 - 0.1 * 1 / Math.Sqrt(1.1), 0.5 - 0.1 * 6 / Math.Sqrt(36.1), -1.0 + 0.1 * 0.75 / Math.Sqrt(0.6625) };
        TinyProblem.AssertSamePath(new[] { expected }, path);
    }

    [Theory]
    [InlineData(0.1, 0.0)]
    [InlineData(0.0, 0.0)]
    [InlineData(0.1, 0.05)]
    public void ThreeStepsMatchTheUpdateRule(double initialAccumulator, double decay)
    {
        var options = new Adagrad { LearningRate = 0.2, InitialAccumulatorValue = initialAccumulator, CoupledWeightDecay = decay };
        TinyProblem.AssertSamePath(Reference(0.2, initialAccumulator, 1e-7, decay, 3), TinyProblem.Run(options, 3));
    }

    [Fact]
    public void KerasDefaults()
    {
        var o = new Adagrad();
        Assert.Equal((0.001, 0.1, 1e-7), (o.LearningRate, o.InitialAccumulatorValue, o.Epsilon));
    }

    [Fact]
    public void NegativeAccumulatorIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad { InitialAccumulatorValue = -1 }.Validate());
        Assert.Contains("Received: InitialAccumulatorValue=-1", e.Message);
    }

    [Fact]
    public void TrainsAnMlp()
    {
        double accuracy = RealTraining.Mlp(new Adagrad { LearningRate = 0.05 }, _log);
        Assert.True(accuracy > 0.7, $"test accuracy {accuracy:F3}");
    }
}
