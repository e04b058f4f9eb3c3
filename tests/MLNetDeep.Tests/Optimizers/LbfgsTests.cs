using MLNetDeep.Optimizers;
using MLNetDeep.Training;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Optimizers;

[Trait("Category", "Unit")]
public class LbfgsTests
{
    private readonly ITestOutputHelper _log;
    public LbfgsTests(ITestOutputHelper log) => _log = log;

    // A coupled quadratic L(w) = ½wᵀAw − bᵀw (A symmetric positive definite), minimum at A⁻¹b.
    private static readonly double[,] A = { { 3, 1, 0.5 }, { 1, 2, 0.2 }, { 0.5, 0.2, 1 } };
    private static readonly double[] B = { 1, -2, 0.5 };

    private static Tensor Loss(Tensor w)
    {
        var a = tensor(new double[] { 3, 1, 0.5, 1, 2, 0.2, 0.5, 0.2, 1 }, new long[] { 3, 3 }, ScalarType.Float64);
        var b = tensor(B, dtype: ScalarType.Float64);
        return 0.5 * w.dot(a.mv(w)) - b.dot(w);
    }

    private static List<double[]> OurPath(Lbfgs options, int steps)
    {
        var w = new Parameter(zeros(3, ScalarType.Float64));
        using var updater = options.CreateUpdater(new[] { new ParameterGroup("all", new[] { w }) });
        var path = new List<double[]>();
        for (int s = 0; s < steps; s++)
        {
            updater.ZeroGrad();
            Loss(w).backward();
            updater.Step();
            path.Add(w.detach().data<double>().ToArray());
        }
        return path;
    }

    [Fact]
    public void MatchesLibTorchLbfgsWithOneIterationPerStep()
    {
        // Independent implementation: LibTorch's own LBFGS (C++, through TorchSharp) with max_iter = 1 and a closure.
        var w = new Parameter(zeros(3, ScalarType.Float64));
        var torchLbfgs = TorchSharp.torch.optim.LBFGS(new[] { w }, lr: 0.8, max_iter: 1, tolerange_grad: 1e-7, tolerance_change: 1e-9, history_size: 5);
        var expected = new List<double[]>();
        for (int s = 0; s < 8; s++)
        {
            torchLbfgs.step(() =>
            {
                torchLbfgs.zero_grad();
                var loss = Loss(w);
                loss.backward();
                return loss;
            });
            expected.Add(w.detach().data<double>().ToArray());
        }
        var ours = OurPath(new Lbfgs { LearningRate = 0.8, HistorySize = 5 }, 8);
        TinyProblem.AssertSamePath(expected, ours, 1e-10);
    }

    [Fact]
    public void FirstStepByHand()
    {
        // From w = 0: g = −b = (−1, 2, −0.5), ‖g‖₁ = 3.5, t = min(1, 1/3.5)·lr, d = −g, so w₁ = b/3.5 (lr = 1).
        var path = OurPath(new Lbfgs(), 1);
        TinyProblem.AssertSamePath(new[] { B.Select(x => x / 3.5).ToArray() }, path);
    }

    [Fact]
    public void ConvergesToTheMinimumOfAQuadratic()
    {
        // A⁻¹b computed by Cramer's rule.
        double det = A[0, 0] * (A[1, 1] * A[2, 2] - A[1, 2] * A[2, 1]) - A[0, 1] * (A[1, 0] * A[2, 2] - A[1, 2] * A[2, 0]) + A[0, 2] * (A[1, 0] * A[2, 1] - A[1, 1] * A[2, 0]);
        double Det(int col)
        {
            var m = (double[,])A.Clone();
            for (int r = 0; r < 3; r++) m[r, col] = B[r];
            return m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]) - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0]) + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]);
        }
        var solution = new[] { Det(0) / det, Det(1) / det, Det(2) / det };
        var path = OurPath(new Lbfgs(), 15);
        for (int i = 0; i < 3; i++) Assert.Equal(solution[i], path[^1][i], 6);
    }

    [Fact]
    public void GroupsWithDifferentMultipliersAreRefused()
    {
        var groups = new[]
        {
            new ParameterGroup("body", new[] { new Parameter(zeros(2)) }, 0.1),
            new ParameterGroup("head", new[] { new Parameter(zeros(2)) }, 1.0),
        };
        var e = Assert.Throws<NotSupportedException>(() => new Lbfgs().CreateUpdater(groups));
        Assert.Contains("body: 0.1", e.Message);
    }

    [Fact]
    public void TrainsSoftmaxRegressionFullBatch()
    {
        double accuracy = RealTraining.Linear(new Lbfgs { LearningRate = 0.5, HistorySize = 10 }, _log, epochs: 30, batchSize: TrainerOptions.FullBatch);
        Assert.True(accuracy > 0.7, $"test accuracy {accuracy:F3}");
    }
}
