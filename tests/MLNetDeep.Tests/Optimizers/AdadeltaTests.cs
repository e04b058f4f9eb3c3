using MLNetDeep.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Optimizers;

[Trait("Category", "Unit")]
public class AdadeltaTests
{
    private readonly ITestOutputHelper _log;
    public AdadeltaTests(ITestOutputHelper log) => _log = log;

    // Reference (Zeiler 2012, Algorithm 1, with a learning rate): v ← ρv + (1−ρ)g²; Δ = √(u+ε)/√(v+ε)·g; u ← ρu + (1−ρ)Δ²; w ← w − lr·Δ.
    private static List<double[]> Reference(double lr, double rho, double eps, int steps)
    {
        var w = (double[])TinyProblem.Start.Clone();
        var v = new double[w.Length];
        var u = new double[w.Length];
        var path = new List<double[]>();
        for (int k = 0; k < steps; k++)
        {
            var g = TinyProblem.Gradient(w);
            for (int i = 0; i < w.Length; i++)
            {
                v[i] = rho * v[i] + (1 - rho) * g[i] * g[i];
                double delta = Math.Sqrt(u[i] + eps) / Math.Sqrt(v[i] + eps) * g[i];
                u[i] = rho * u[i] + (1 - rho) * delta * delta;
                w[i] -= lr * delta;
            }
            path.Add((double[])w.Clone());
        }
        return path;
    }

    [Fact]
    public void FirstStepByHand()
    {
        // Step 1, ρ = 0.9, ε = 1e-6, lr = 1: v = 0.1·g², Δ = √ε/√(0.1g² + ε)·g. For g = 6: √1e-6/√(3.6 + 1e-6)·6.
        var path = TinyProblem.Run(new Adadelta { LearningRate = 1.0, Rho = 0.9, Epsilon = 1e-6 }, 1);
        double Delta(double g) => Math.Sqrt(1e-6) / Math.Sqrt(0.1 * g * g + 1e-6) * g;
        TinyProblem.AssertSamePath(new[] { new[] { 1.5 - Delta(1), 0.5 - Delta(6), -1.0 - Delta(-0.75) } }, path);
    }

    [Fact]
    public void ThreeStepsMatchTheUpdateRule()
    {
        var options = new Adadelta { LearningRate = 1.0 };
        TinyProblem.AssertSamePath(Reference(1.0, 0.95, 1e-7, 3), TinyProblem.Run(options, 3));
    }

    [Fact]
    public void KerasDefaults()
    {
        var o = new Adadelta();
        Assert.Equal((0.001, 0.95, 1e-7), (o.LearningRate, o.Rho, o.Epsilon));
    }

    [Fact]
    public void RhoOfOneIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Adadelta { Rho = 1 }.Validate());
        Assert.Contains("Adadelta.Rho must be in [0, 1). Received: Rho=1", e.Message);
    }

    [Fact]
    public void TrainsAnMlp()
    {
        // The paper's form (lr = 1); Keras' default 0.001 barely moves in 2 epochs.
        double accuracy = RealTraining.Mlp(new Adadelta { LearningRate = 1.0, Epsilon = 1e-6 }, _log);
        Assert.True(accuracy > 0.7, $"test accuracy {accuracy:F3}");
    }
}
