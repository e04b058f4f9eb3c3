using MLNetDeep.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Optimizers;

[Trait("Category", "Unit")]
public class NadamTests
{
    private readonly ITestOutputHelper _log;
    public NadamTests(ITestOutputHelper log) => _log = log;

    // Reference (Dozat 2016, with the momentum schedule μₜ = β1(1 − ½·0.96^(tψ))):
    // m ← β1m + (1−β1)g; v ← β2v + (1−β2)g²; d = √(v/(1−β2ᵗ)) + ε;
    // w ← w − lr·(1−μₜ)/(1−Π₁..ₜμ)·g/d − lr·μₜ₊₁/(1−Π₁..ₜ₊₁μ)·m/d.
    private static List<double[]> Reference(double lr, double b1, double b2, double eps, double psi, int steps)
    {
        var w = (double[])TinyProblem.Start.Clone();
        var m = new double[w.Length];
        var v = new double[w.Length];
        double product = 1;
        var path = new List<double[]>();
        for (int t = 1; t <= steps; t++)
        {
            var g = TinyProblem.Gradient(w);
            double mu = b1 * (1 - 0.5 * Math.Pow(0.96, t * psi));
            double muNext = b1 * (1 - 0.5 * Math.Pow(0.96, (t + 1) * psi));
            product *= mu;
            for (int i = 0; i < w.Length; i++)
            {
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                double d = Math.Sqrt(v[i] / (1 - Math.Pow(b2, t))) + eps;
                w[i] -= lr * (1 - mu) / (1 - product) * g[i] / d;
                w[i] -= lr * muNext / (1 - product * muNext) * m[i] / d;
            }
            path.Add((double[])w.Clone());
        }
        return path;
    }

    [Fact]
    public void ThreeStepsMatchTheUpdateRule()
    {
        TinyProblem.AssertSamePath(Reference(0.1, 0.9, 0.999, 1e-7, 0.004, 3), TinyProblem.Run(new Nadam { LearningRate = 0.1 }, 3));
    }

    [Fact]
    public void KerasDefaults()
    {
        var o = new Nadam();
        Assert.Equal((0.001, 0.9, 0.999, 1e-7, 0.004), (o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.MomentumDecay));
    }

    [Fact]
    public void TrainsAnMlp()
    {
        double accuracy = RealTraining.Mlp(new Nadam(), _log);
        Assert.True(accuracy > 0.72, $"test accuracy {accuracy:F3}");
    }
}
