using System.Text.Json;
using MLNetDeep.Activations;
using MLNetDeep.Initializers;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Activations;

[Trait("Category", "Unit")]
public class ActivationTests
{
    private static readonly float[] Inputs = { -6f, -2.5f, -1f, -0.3f, 0f, 0.3f, 1f, 2.5f, 6f };

    // erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): .NET has no Math.Erf.
    private static double Erf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x));
        double y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return Math.Sign(x) * y;
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    public static TheoryData<Activation, string> Cases() => new()
    {
        { new Relu(), "relu" },
        { new LeakyRelu { Alpha = 0.2 }, "leaky_relu" },
        { new Elu { Alpha = 1.5 }, "elu" },
        { new Selu(), "selu" },
        { new Gelu(), "gelu" },
        { new Softplus(), "softplus" },
        { new Tanh(), "tanh" },
        { new MLNetDeep.Activations.Sigmoid(), "sigmoid" },
        { new Silu(), "silu" },
        { new Identity(), "identity" },
    };

    private static double Formula(Activation a, double x) => a switch
    {
        Relu => Math.Max(0, x),
        LeakyRelu l => x > 0 ? x : l.Alpha * x,
        Elu e => x > 0 ? x : e.Alpha * (Math.Exp(x) - 1),
        // Klambauer et al. 2017: λ = 1.0507009873554805, α = 1.6732632423543772.
        Selu => 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (Math.Exp(x) - 1)),
        Gelu => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))),
        Softplus => Math.Log(1 + Math.Exp(x)),
        Tanh => Math.Tanh(x),
        MLNetDeep.Activations.Sigmoid => Sigmoid(x),
        Silu => x * Sigmoid(x),
        Identity => x,
        _ => throw new NotSupportedException(a.Name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ModuleComputesTheFormula(Activation activation, string name)
    {
        Assert.Equal(name, activation.Name);
        using var module = activation.CreateModule();
        var output = module.call(tensor(Inputs)).data<float>().ToArray();
        for (int i = 0; i < Inputs.Length; i++)
        {
            double expected = Formula(activation, Inputs[i]);
            Assert.True(Math.Abs(output[i] - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"{name}({Inputs[i]}) = {output[i]}, expected {expected}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RoundTripsThroughJson(Activation activation, string name)
    {
        var json = JsonSerializer.Serialize(activation);
        Assert.Contains($"\"kind\":\"{name}\"", json);
        var back = JsonSerializer.Deserialize<Activation>(json)!;
        Assert.Equal(json, JsonSerializer.Serialize(back));
    }

    [Fact]
    public void PreferredInitialisationFamilies()
    {
        foreach (var a in new Activation[] { new Relu(), new LeakyRelu(), new Elu(), new Gelu(), new Silu() }) Assert.Equal(InitFamily.He, a.PreferredInit);
        foreach (var a in new Activation[] { new Tanh(), new MLNetDeep.Activations.Sigmoid(), new Softplus(), new Identity() }) Assert.Equal(InitFamily.Glorot, a.PreferredInit);
        Assert.Equal(InitFamily.LeCun, new Selu().PreferredInit);
    }

    [Fact]
    public void InvalidAlphasAreRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new LeakyRelu { Alpha = -0.1 }.CreateModule());
        Assert.Contains("LeakyRelu.Alpha must be >= 0. Received: Alpha=-0.1", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Elu { Alpha = 0 }.CreateModule());
    }

    [Fact]
    public void SelectablePerBlock()
    {
        // Each conv block and the dense head take their own activation; each layer's default initializer follows it.
        var arch = new CnnArchitecture
        {
            ImageShape = new ImageShape(1, 28, 28),
            Layers = new() { new ConvBlock(4, 3, PoolingKind.Max) { Activation = new Selu() }, new ConvBlock(4, 3, PoolingKind.Max) { Activation = new Elu { Alpha = 0.5 } } },
            Head = new DenseHead { HiddenSizes = new() { 16 }, Activation = new Gelu() },
        };
        arch.Validate();
        using var net = arch.Build(10, null);
        var names = net.modules().Select(m => m.GetType().Name).ToList();
        Assert.Contains("SELU", names);
        Assert.Contains("ELU", names);
        Assert.Contains("GELU", names);
        net.eval();
        using var output = net.call(randn(2, 1, 28, 28));
        Assert.Equal(new long[] { 2, 10 }, output.shape);
    }
}
