using MLNetDeep.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Optimizers;

[Trait("Category", "Unit")]
public class AdamaxTests
{
    private readonly ITestOutputHelper _log;
    public AdamaxTests(ITestOutputHelper log) => _log = log;

    // Reference (Kingma & Ba §7.1, PyTorch's ε): m ← β1m + (1−β1)g; u ← max(β2u, |g| + ε); w ← w − lr/(1−β1ᵗ)·m/u.
    private static List<double[]> Reference(double lr, double b1, double b2, double eps, int steps)
    {
        var w = (double[])TinyProblem.Start.Clone();
        var m = new double[w.Length];
        var u = new double[w.Length];
        var path = new List<double[]>();
        for (int t = 1; t <= steps; t++)
        {
            var g = TinyProblem.Gradient(w);
            for (int i = 0; i < w.Length; i++)
            {
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                u[i] = Math.Max(b2 * u[i], Math.Abs(g[i]) + eps);
                w[i] -= lr / (1 - Math.Pow(b1, t)) * m[i] / u[i];
            }
            path.Add((double[])w.Clone());
        }
        return path;
    }

    [Fact]
    public void FirstStepIsLearningRateTimesSignOfGradient()
    {
        // m = 0.1g, u = |g|, bias correction 1/0.1: the first step is lr·sign(g).
        var path = TinyProblem.Run(new Adamax { LearningRate = 0.1, Epsilon = 1e-300 }, 1);
        TinyProblem.AssertSamePath(new[] { new[] { 1.4, 0.4, -0.9 } }, path);
    }

    [Fact]
    public void FiveStepsMatchTheUpdateRule()
    {
        // Five steps, so u's max switches from |g| to β2·u on the coordinates whose gradient shrinks.
        TinyProblem.AssertSamePath(Reference(0.1, 0.9, 0.999, 1e-7, 5), TinyProblem.Run(new Adamax { LearningRate = 0.1 }, 5));
    }

    [Fact]
    public void KerasDefaults()
    {
        var o = new Adamax();
        Assert.Equal((0.001, 0.9, 0.999, 1e-7), (o.LearningRate, o.Beta1, o.Beta2, o.Epsilon));
    }

    [Fact]
    public void TrainsAnMlp()
    {
        double accuracy = RealTraining.Mlp(new Adamax { LearningRate = 0.002 }, _log);
        Assert.True(accuracy > 0.72, $"test accuracy {accuracy:F3}");
    }
}
