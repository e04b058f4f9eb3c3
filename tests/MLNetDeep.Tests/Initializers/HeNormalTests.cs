using MLNetDeep.Activations;
using MLNetDeep.Initializers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Initializers;

[Trait("Category", "Unit")]
public class HeNormalTests
{
    [Fact]
    public void MomentsMatchTheoryOnRealLayers() =>
        // std sqrt(2/fan_in): variance 2.0 / fi
        InitStats.CheckMoments(new HeNormal(), (fi, fo) => 2.0 / fi);

    [Fact]
    public void IsTheDefaultForTheReluFamilyAndKeepsTheSignalThroughADeepReluStack()
    {
        foreach (var act in new Activation[] { new Relu(), new LeakyRelu(), new Elu(), new Gelu(), new Silu() })
            Assert.IsType<HeNormal>(Initializer.ForActivation(act));
        // He et al. 2015: with variance 2/fan_in the mean square of ReLU pre-activations stays constant through depth;
        // with Glorot's 2/(fan_in+fan_out) = 1/256 here it halves every layer.
        double MeanSquareAfter(Initializer init)
        {
            torch.random.manual_seed(5);
            using var scope = NewDisposeScope();
            var x = randn(2000, 256);
            for (int layer = 0; layer < 20; layer++)
            {
                var linear = nn.Linear(256, 256, hasBias: false);
                init.Initialize(linear.weight!);
                using (no_grad()) x = linear.call(x).relu();
            }
            return x.square().mean().ToDouble();
        }
        double he = MeanSquareAfter(new HeNormal()), glorot = MeanSquareAfter(new GlorotNormal());
        Assert.InRange(he, 0.25, 4.0); // theory 1 (each layer: variance ×2·½); random layers wander a little, Glorot falls ~10⁶×
        Assert.True(glorot < 1e-4, $"Glorot after 20 ReLU layers: {glorot:G3} (expected ~2^-20)");
    }
}
