using MLNetDeep.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Optimizers;

[Trait("Category", "Unit")]
public class FtrlTests
{
    private readonly ITestOutputHelper _log;
    public FtrlTests(ITestOutputHelper log) => _log = log;

    [Fact]
    public void FirstStepByHand()
    {
        // α = 0.5, p = 0.5, n₀ = 0.1, l1 = 0.05, l2 = 0.01. First coordinate: w = 1.5, g = 1·(1.5 − 0.5) = 1.
        //   n' = 0.1 + 1² = 1.1
        //   σ  = (√1.1 − √0.1)/0.5 = (1.0488088482 − 0.3162277660)/0.5 = 1.4651621644
        //   z  = 0 + 1 − 1.4651621644·1.5 = −1.1977432466
        //   q  = √1.1/0.5 + 2·0.01 = 2.0976176963 + 0.02 = 2.1176176963
        //   |z| > l1, so w = −(z − sign(z)·l1)/q = (1.1977432466 − 0.05)/2.1176176963 = 0.5419973815
        double sigma = (Math.Sqrt(1.1) - Math.Sqrt(0.1)) / 0.5;
        double z = 1 - sigma * 1.5;
        double q = Math.Sqrt(1.1) / 0.5 + 0.02;
        double expected0 = -(z + 0.05) / q;
        Assert.Equal(0.5419973815, expected0, 9);

        var path = TinyProblem.Run(new Ftrl { LearningRate = 0.5, L1 = 0.05, L2 = 0.01 }, 2);
        // Second and third coordinates and the second step, from the same formulas evaluated in double precision (by a
        // separate script): the first step replaces most of the starting weights, FTRL's dual-averaging nature.
        TinyProblem.AssertSamePath(new[]
        {
            new[] { 0.54199738151201082, -0.021426235891048973, -0.1185925451622122 },
            new[] { 0.52218074070776377, -0.29397556090730298, 0.10037083983928383 },
        }, path, 1e-12);
        Assert.Equal(expected0, path[0][0], 12);
    }

    [Fact]
    public void L1MakesExactZeros()
    {
        // With l1 = 1: second coordinate z = 6 − (√36.1 − √0.1)/0.5·0.5 = 0.308 and third z = −0.75 − σ·(−1) = 0.11, both |z| ≤ 1 → exactly 0.
        var path = TinyProblem.Run(new Ftrl { LearningRate = 0.5, L1 = 1.0 }, 1);
        Assert.Equal(0.0, path[0][1]);
        Assert.Equal(0.0, path[0][2]);
        Assert.Equal(0.09427039388776227, path[0][0], 12);
    }

    // Reference (Keras' Ftrl.update_step): g̃ = g + 2·shrink·w; n' = n + g²; z += g̃ − (n'ᵖ − nᵖ)/α·w;
    // q = n'ᵖ/α + 2(l2 + β/(2α)); w = (clip(z, −l1, l1) − z)/q; n = n'.
    private static List<double[]> Reference(Func<int, double> rate, double power, double n0, double l1, double l2, double shrink, double beta, int steps)
    {
        var w = (double[])TinyProblem.Start.Clone();
        var n = w.Select(_ => n0).ToArray();
        var z = new double[w.Length];
        double p = -power;
        var path = new List<double[]>();
        for (int s = 0; s < steps; s++)
        {
            double lr = rate(s);
            var g = TinyProblem.Gradient(w);
            for (int i = 0; i < w.Length; i++)
            {
                double gt = g[i] + 2 * shrink * w[i];
                double nNew = n[i] + g[i] * g[i];
                z[i] += gt - (Math.Pow(nNew, p) - Math.Pow(n[i], p)) / lr * w[i];
                double q = Math.Pow(nNew, p) / lr + 2 * (l2 + beta / (2 * lr));
                w[i] = (Math.Clamp(z[i], -l1, l1) - z[i]) / q;
                n[i] = nNew;
            }
            path.Add((double[])w.Clone());
        }
        return path;
    }

    [Theory]
    [InlineData(-0.5, 0.1, 0.0, 0.0, 0.0, 0.0)]
    [InlineData(-0.5, 0.1, 0.05, 0.01, 0.02, 0.5)]
    [InlineData(-0.3, 0.5, 0.01, 0.1, 0.0, 1.0)]
    [InlineData(0.0, 0.0, 0.0, 0.2, 0.1, 0.0)]
    public void FourStepsMatchTheUpdateRuleWithAChangingRate(double power, double n0, double l1, double l2, double shrink, double beta)
    {
        Func<int, double> rate = s => 0.4 / (1 + s); // a schedule changes α between steps
        var options = new Ftrl { LearningRate = 0.4, LearningRatePower = power, InitialAccumulatorValue = n0, L1 = l1, L2 = l2, L2Shrinkage = shrink, Beta = beta };
        TinyProblem.AssertSamePath(Reference(rate, power, n0, l1, l2, shrink, beta, 4), TinyProblem.Run(options, 4, rate), 1e-12);
    }

    [Fact]
    public void WithoutRegularisationAndFromZeroItIsAdagradWithoutEpsilon()
    {
        // From w = 0 with l1 = l2 = 0 the FTRL-Proximal weights equal Adagrad's: w ← w − α·g/√n (McMahan 2011).
        var zero = new[] { 0.0, 0.0, 0.0 };
        var ftrl = TinyProblem.Run(new Ftrl { LearningRate = 0.3 }, 3, start: zero);
        var adagrad = TinyProblem.Run(new Adagrad { LearningRate = 0.3, Epsilon = 1e-300 }, 3, start: zero);
        TinyProblem.AssertSamePath(adagrad, ftrl, 1e-12);
    }

    [Fact]
    public void KerasDefaultsAndValidation()
    {
        var o = new Ftrl();
        Assert.Equal((0.001, -0.5, 0.1, 0.0, 0.0, 0.0, 0.0), (o.LearningRate, o.LearningRatePower, o.InitialAccumulatorValue, o.L1, o.L2, o.L2Shrinkage, o.Beta));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Ftrl { LearningRatePower = 0.5 }.Validate());
        Assert.Contains("Ftrl.LearningRatePower must be <= 0", e.Message);
        Assert.Contains("Received: LearningRatePower=0.5", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Ftrl { L1 = -1 }.Validate());
    }

    [Fact]
    public void TrainsSoftmaxRegression()
    {
        double accuracy = RealTraining.Linear(new Ftrl { LearningRate = 0.1 }, _log);
        Assert.True(accuracy > 0.7, $"test accuracy {accuracy:F3}");
    }
}
