using MLNetDeep.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Optimizers;

[Trait("Category", "Unit")]
public class RmsPropTests
{
    private readonly ITestOutputHelper _log;
    public RmsPropTests(ITestOutputHelper log) => _log = log;

    // Reference (Hinton's lecture 6e; Graves 2013 for centred): v ← ρv + (1−ρ)g²; ḡ ← ρḡ + (1−ρ)g;
    // d = √(v − ḡ²) + ε (centred) or √v + ε; b ← μb + g/d, w ← w − lr·b (or w ← w − lr·g/d without momentum).
    private static List<double[]> Reference(double lr, double rho, double momentum, bool centered, double eps, int steps)
    {
        var w = (double[])TinyProblem.Start.Clone();
        var v = new double[w.Length];
        var gAvg = new double[w.Length];
        var b = new double[w.Length];
        var path = new List<double[]>();
        for (int k = 0; k < steps; k++)
        {
            var g = TinyProblem.Gradient(w);
            for (int i = 0; i < w.Length; i++)
            {
                v[i] = rho * v[i] + (1 - rho) * g[i] * g[i];
                double d;
                if (centered)
                {
                    gAvg[i] = rho * gAvg[i] + (1 - rho) * g[i];
                    d = Math.Sqrt(v[i] - gAvg[i] * gAvg[i]) + eps;
                }
                else d = Math.Sqrt(v[i]) + eps;
                if (momentum > 0)
                {
                    b[i] = momentum * b[i] + g[i] / d;
                    w[i] -= lr * b[i];
                }
                else w[i] -= lr * g[i] / d;
            }
            path.Add((double[])w.Clone());
        }
        return path;
    }

    [Fact]
    public void FirstStepByHand()
    {
        // v = 0.1·g², so g/√v = sign(g)·√10 and w₁ = w₀ − lr·√10·sign(g) (ε negligible).
        var path = TinyProblem.Run(new RmsProp { LearningRate = 0.01, Epsilon = 1e-300 }, 1);
        double step = 0.01 * Math.Sqrt(10);
        TinyProblem.AssertSamePath(new[] { new[] { 1.5 - step, 0.5 - step, -1.0 + step } }, path);
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.9, false)]
    [InlineData(0.0, true)]
    [InlineData(0.5, true)]
    public void ThreeStepsMatchTheUpdateRule(double momentum, bool centered)
    {
        var options = new RmsProp { LearningRate = 0.01, Momentum = momentum, Centered = centered };
        TinyProblem.AssertSamePath(Reference(0.01, 0.9, momentum, centered, 1e-7, 3), TinyProblem.Run(options, 3));
    }

    [Fact]
    public void KerasDefaults()
    {
        var o = new RmsProp();
        Assert.Equal((0.001, 0.9, 0.0, 1e-7, false), (o.LearningRate, o.Rho, o.Momentum, o.Epsilon, o.Centered));
    }

    [Fact]
    public void TrainsAnMlp()
    {
        double accuracy = RealTraining.Mlp(new RmsProp { LearningRate = 0.001 }, _log);
        Assert.True(accuracy > 0.7, $"test accuracy {accuracy:F3}");
    }
}
