using MLNetDeep.Initializers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Initializers;

/// <summary>Real layers' weight tensors, and checks of an initializer's sample mean and variance against theory.</summary>
internal static class InitStats
{
    /// <summary>(name, weight, fan-in, fan-out): a dense layer 784 → 128, a 3×3 convolution 32 → 64, an LSTM input matrix (4·64 gates, 100 inputs).</summary>
    public static IEnumerable<(string Name, Tensor Weight, double FanIn, double FanOut)> RealLayers()
    {
        yield return ("Linear(784→128)", nn.Linear(784, 128).weight!, 784, 128);
        yield return ("Conv2d(32→64, 3×3)", nn.Conv2d(32, 64, 3).weight!, 32 * 9, 64 * 9);
        yield return ("LSTM(100→64).weight_ih", nn.LSTM(100, 64).get_parameter("weight_ih_l0")!, 100, 256);
    }

    /// <summary>Initialises each real layer and checks mean ≈ 0 (within 5 standard errors) and variance within 5% of <paramref name="variance"/>(fanIn, fanOut).</summary>
    public static void CheckMoments(Initializer init, Func<double, double, double> variance, double? uniformLimitFactor = null)
    {
        torch.random.manual_seed(7);
        foreach (var (name, weight, fanIn, fanOut) in RealLayers())
        {
            Assert.Equal((fanIn, fanOut), Initializer.Fans(weight));
            using (no_grad()) init.Initialize(weight);
            double expected = variance(fanIn, fanOut);
            double n = weight.numel();
            double mean = weight.mean().ToDouble(), var = weight.var(unbiased: false).ToDouble();
            Assert.True(Math.Abs(mean) < 5 * Math.Sqrt(expected / n), $"{init} on {name}: mean {mean:G4}, allowed ±{5 * Math.Sqrt(expected / n):G3}");
            Assert.True(Math.Abs(var / expected - 1) < 0.05, $"{init} on {name}: variance {var:G5}, theory {expected:G5}");
            if (uniformLimitFactor is double f)
            {
                double limit = Math.Sqrt(f * expected);
                Assert.True(weight.abs().max().ToDouble() <= limit * (1 + 1e-6), $"{init} on {name}: a value beyond ±{limit:G4}");
                Assert.True(weight.abs().max().ToDouble() > 0.99 * limit, $"{init} on {name}: values don't reach ±{limit:G4}");
            }
        }
    }
}
