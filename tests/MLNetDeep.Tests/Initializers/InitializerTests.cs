using System.Text.Json;
using MLNetDeep.Activations;
using MLNetDeep.Initializers;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Initializers;

/// <summary>What all initializers share: fans, the default by activation, JSON.</summary>
[Trait("Category", "Unit")]
public class InitializerTests
{
    [Fact]
    public void DefaultByActivation()
    {
        Assert.IsType<HeNormal>(Initializer.ForActivation(new Relu()));
        Assert.IsType<LeCunNormal>(Initializer.ForActivation(new Selu()));
        Assert.IsType<GlorotUniform>(Initializer.ForActivation(new Tanh()));
        Assert.IsType<GlorotUniform>(Initializer.ForActivation(new Sigmoid()));
        Assert.IsType<GlorotUniform>(Initializer.ForActivation(new Softplus()));
        Assert.IsType<GlorotUniform>(Initializer.ForActivation(null));
    }

    [Fact]
    public void FansOfBiasesAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => Initializer.Fans(zeros(10)));
        Assert.Contains("Received: shape=[10]", e.Message);
    }

    public static TheoryData<Initializer> All() => new()
    {
        new GlorotUniform(), new GlorotNormal(), new HeUniform(), new HeNormal(), new LeCunUniform(), new LeCunNormal(),
        new Orthogonal { Gain = 2 }, new Constant(0.25), new Zeros(),
    };

    [Theory]
    [MemberData(nameof(All))]
    public void RoundTripsThroughJson(Initializer init)
    {
        var json = JsonSerializer.Serialize(init);
        Assert.Contains($"\"kind\":\"{init.Name}\"", json);
        var back = JsonSerializer.Deserialize<Initializer>(json)!;
        Assert.Equal(init.GetType(), back.GetType());
        Assert.Equal(json, JsonSerializer.Serialize(back));
    }
}
