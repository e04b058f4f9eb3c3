using MLNetDeep.Activations;
using MLNetDeep.Initializers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Initializers;

[Trait("Category", "Unit")]
public class LeCunNormalTests
{
    [Fact]
    public void MomentsMatchTheoryOnRealLayers() =>
        // std sqrt(1/fan_in): variance 1.0 / fi
        InitStats.CheckMoments(new LeCunNormal(), (fi, fo) => 1.0 / fi);

    [Fact]
    public void IsTheDefaultForSeluAndKeepsADeepSeluStackSelfNormalised()
    {
        Assert.IsType<LeCunNormal>(Initializer.ForActivation(new Selu()));
        // Klambauer et al. 2017: with LeCun-normal weights, SELU keeps activations near mean 0 / variance 1 through depth.
        torch.random.manual_seed(3);
        using var scope = NewDisposeScope();
        var x = randn(2000, 256);
        var selu = nn.SELU();
        for (int layer = 0; layer < 30; layer++)
        {
            var linear = nn.Linear(256, 256, hasBias: false);
            new LeCunNormal().Initialize(linear.weight!);
            using (no_grad()) x = selu.call(linear.call(x));
        }
        double mean = x.mean().ToDouble(), variance = x.var().ToDouble();
        Assert.True(Math.Abs(mean) < 0.1 && Math.Abs(variance - 1) < 0.2, $"after 30 SELU layers: mean {mean:F3}, variance {variance:F3}");
    }
}
