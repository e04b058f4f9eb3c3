using MLNetDeep.Optimizers;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Optimizers;

/// <summary>
/// The classic picture (e.g. Saito, "Deep Learning from Scratch", §6.1): minimise f(x, y) = x²/20 + y² from (−7, 2).
/// The curvatures differ 20× (∂²f/∂x² = 0.1, ∂²f/∂y² = 2), so any single SGD rate is a compromise: 0.95 is SGD's
/// best one, 2/(L + μ), and it still bounces across the y valley (y·(1 − 2·0.95) = −0.9·y) while x shrinks only by
/// 1 − 0.095 per step. Momentum accumulates the consistent x gradient; AdaGrad, RMSprop and Adam rescale each
/// coordinate by its own gradient size, so both directions move at a similar pace.
/// </summary>
[Trait("Category", "Unit")]
public class ClassicComparisonTests
{
    private static readonly double[] Start = { -7.0, 2.0 };
    private readonly ITestOutputHelper _log;
    public ClassicComparisonTests(ITestOutputHelper log) => _log = log;

    private static Tensor F(Tensor p) => p[0].square() / 20 + p[1].square();
    private static double FValue(double[] p) => p[0] * p[0] / 20 + p[1] * p[1];

    // The rates of the classic figure (RMSprop, not in it, gets Adam's).
    private static readonly (string Name, Optimizer Optimizer)[] Contenders =
    {
        ("Momentum", new Sgd { LearningRate = 0.1, Momentum = 0.9 }),
        ("AdaGrad", new Adagrad { LearningRate = 1.5 }),
        ("RMSprop", new RmsProp { LearningRate = 0.3 }),
        ("Adam", new Adam { LearningRate = 0.3 }),
    };

    private static int StepsUntil(List<double[]> path, Func<double[], bool> reached) => path.FindIndex(p => reached(p));
    private static double Distance(double[] p) => Math.Sqrt(p[0] * p[0] + p[1] * p[1]);
    private static int YReversals(List<double[]> path, int steps) =>
        Enumerable.Range(1, steps - 1).Count(k => (path[k][1] - path[k - 1][1]) * (path[k + 1][1] - path[k][1]) < 0);
    private static double Length(List<double[]> path, int steps) =>
        Enumerable.Range(0, steps).Sum(k => Math.Sqrt(Math.Pow(path[k + 1][0] - path[k][0], 2) + Math.Pow(path[k + 1][1] - path[k][1], 2)));

    [Fact]
    public void SgdZigZagsWhileMomentumAdaGradRmsPropAndAdamReachTheMinimumFaster()
    {
        var sgd = OptimizerTrace.Run(new Sgd { LearningRate = 0.95 }, F, Start, 60);
        int sgdSteps = StepsUntil(sgd, p => Distance(p) < 0.5);
        double sgdLength = Length(sgd, sgdSteps);
        _log.WriteLine($"SGD: within 0.5 of the minimum after {sgdSteps} steps, path length {sgdLength:F1}, y reversals in 20 steps {YReversals(sgd, 20)}");

        // Zig-zag: SGD's y coordinate changes sign at every one of the first 20 steps.
        for (int k = 0; k < 20; k++) Assert.True(sgd[k][1] * sgd[k + 1][1] < 0, $"SGD's y kept its sign at step {k + 1}");

        foreach (var (name, optimizer) in Contenders)
        {
            var path = OptimizerTrace.Run(optimizer, F, Start, 60);
            int steps = StepsUntil(path, p => Distance(p) < 0.5);
            double length = Length(path, steps);
            int reversals = YReversals(path, 20);
            _log.WriteLine($"{name}: within 0.5 after {steps} steps, path length {length:F1}, y reversals in 20 steps {reversals}");
            Assert.True(steps > 0 && steps < sgdSteps, $"{name} needed {steps} steps, SGD {sgdSteps}");
            Assert.True(reversals <= 2, $"{name} reversed its y direction {reversals} times in 20 steps");
            Assert.True(sgdLength > 3 * length, $"SGD's path ({sgdLength:F1}) should be far longer than {name}'s ({length:F1})");
        }
    }

    [Fact]
    public void MomentumWithPolyaksParametersConvergesAtTheSquareRootRate()
    {
        // For a quadratic with curvatures μ = 0.1 and L = 2 (κ = 20): SGD's best rate 2/(L + μ) contracts the error by
        // (κ − 1)/(κ + 1) ≈ 0.905 per step; heavy-ball momentum with lr = 4/(√L + √μ)², β = ((√κ − 1)/(√κ + 1))²
        // contracts it by (√κ − 1)/(√κ + 1) ≈ 0.635 (Polyak, 1964). So reaching f < 1e-4 takes well under half the steps.
        double L = 2, mu = 0.1, kappa = L / mu;
        var sgd = OptimizerTrace.Run(new Sgd { LearningRate = 2 / (L + mu) }, F, Start, 200);
        double lr = 4 / Math.Pow(Math.Sqrt(L) + Math.Sqrt(mu), 2), beta = Math.Pow((Math.Sqrt(kappa) - 1) / (Math.Sqrt(kappa) + 1), 2);
        var heavyBall = OptimizerTrace.Run(new Sgd { LearningRate = lr, Momentum = beta }, F, Start, 200);
        int sgdSteps = StepsUntil(sgd, p => FValue(p) < 1e-4), momentumSteps = StepsUntil(heavyBall, p => FValue(p) < 1e-4);
        _log.WriteLine($"f < 1e-4: SGD(lr {2 / (L + mu):F3}) after {sgdSteps} steps, momentum(lr {lr:F3}, beta {beta:F3}) after {momentumSteps}");
        Assert.True(momentumSteps > 0 && 2 * momentumSteps < sgdSteps, $"momentum {momentumSteps} vs SGD {sgdSteps} steps");
    }
}
