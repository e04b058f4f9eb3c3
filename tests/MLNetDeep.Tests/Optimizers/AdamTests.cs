using MLNetDeep.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Optimizers;

[Trait("Category", "Training")]
public class AdamTests
{
    private readonly ITestOutputHelper _log;
    public AdamTests(ITestOutputHelper log) => _log = log;

    // Reference (Kingma & Ba, Algorithm 1; Reddi et al. 2018 for AMSGrad):
    // m ← β1m + (1−β1)g; v ← β2v + (1−β2)g²; v̂max ← max(v̂max, v); w ← w − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε).
    internal static List<double[]> Reference(double lr, double b1, double b2, double eps, bool amsgrad, double coupled, double decoupled, int steps)
    {
        var w = (double[])TinyProblem.Start.Clone();
        var m = new double[w.Length];
        var v = new double[w.Length];
        var vMax = new double[w.Length];
        var path = new List<double[]>();
        for (int t = 1; t <= steps; t++)
        {
            var g = TinyProblem.Gradient(w).Select((x, i) => x + coupled * w[i]).ToArray();
            for (int i = 0; i < w.Length; i++)
            {
                w[i] *= 1 - lr * decoupled;
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                vMax[i] = Math.Max(vMax[i], v[i]);
                double vUse = amsgrad ? vMax[i] : v[i];
                w[i] -= lr * (m[i] / (1 - Math.Pow(b1, t))) / (Math.Sqrt(vUse / (1 - Math.Pow(b2, t))) + eps);
            }
            path.Add((double[])w.Clone());
        }
        return path;
    }

    [Fact]
    public void FirstStepIsLearningRateTimesSignOfGradient()
    {
        // After bias correction m̂ = g and v̂ = g², so the first step is lr·g/|g|.
        var path = TinyProblem.Run(new Adam { LearningRate = 0.1, Epsilon = 1e-300 }, 1);
        TinyProblem.AssertSamePath(new[] { new[] { 1.4, 0.4, -0.9 } }, path);
    }

    [Theory]
    [InlineData(false, 0.0)]
    [InlineData(true, 0.0)]
    [InlineData(false, 0.1)]
    public void ThreeStepsMatchTheUpdateRule(bool amsgrad, double coupled)
    {
        var options = new Adam { LearningRate = 0.1, Amsgrad = amsgrad, CoupledWeightDecay = coupled };
        TinyProblem.AssertSamePath(Reference(0.1, 0.9, 0.999, 1e-7, amsgrad, coupled, 0, 3), TinyProblem.Run(options, 3));
    }

    [Fact]
    public void AmsgradDiffersOnceTheSecondMomentFalls()
    {
        // Gradients shrink as w approaches the target, so v falls and AMSGrad (max of v) takes smaller steps.
        var plain = TinyProblem.Run(new Adam { LearningRate = 0.1, Beta2 = 0.5 }, 10);
        var ams = TinyProblem.Run(new Adam { LearningRate = 0.1, Beta2 = 0.5, Amsgrad = true }, 10);
        TinyProblem.AssertSamePath(Reference(0.1, 0.9, 0.5, 1e-7, true, 0, 0, 10), ams);
        Assert.NotEqual(plain[^1][1], ams[^1][1]);
    }

    [Fact]
    public void KerasDefaults()
    {
        var o = new Adam();
        Assert.Equal((0.001, 0.9, 0.999, 1e-7, false), (o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.Amsgrad));
    }

    [Fact]
    public void Beta2OutOfRangeIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam { Beta2 = 1.0 }.Validate());
        Assert.Contains("Adam.Beta2 must be in [0, 1). Received: Beta2=1", e.Message);
    }

    [Fact]
    public void TrainsAnMlp()
    {
        double accuracy = RealTraining.Mlp(new Adam(), _log);
        Assert.True(accuracy > 0.72, $"test accuracy {accuracy:F3}");
    }

    [Fact]
    public void TrainsACnn()
    {
        double accuracy = RealTraining.Cnn(new Adam(), _log, epochs: 1);
        Assert.True(accuracy > 0.65, $"test accuracy {accuracy:F3}");
    }
}
