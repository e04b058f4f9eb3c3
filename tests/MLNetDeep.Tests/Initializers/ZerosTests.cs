using MLNetDeep.Initializers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Initializers;

[Trait("Category", "Unit")]
public class ZerosTests
{
    [Fact]
    public void ZeroesBiases()
    {
        var bias = ones(5);
        new Zeros().Initialize(bias);
        Assert.Equal(0.0, bias.abs().sum().ToDouble());
    }

    [Fact]
    public void RefusesWeights()
    {
        var e = Assert.Throws<ArgumentException>(() => new Zeros().Initialize(nn.Conv2d(3, 8, 3).weight!));
        Assert.StartsWith("Zeros would give every weight of this [8, 3, 3, 3] layer the same value 0", e.Message);
    }
}
