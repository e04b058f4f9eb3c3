using System.Text.Json;
using MLNetDeep.Optimizers;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Optimizers;

/// <summary>What every optimizer shares: JSON round trips, rate validation, parameter-group multipliers.</summary>
[Trait("Category", "Unit")]
public class OptimizerOptionsTests
{
    public static TheoryData<Optimizer> All() => new()
    {
        new Sgd { LearningRate = 0.2, Momentum = 0.8, Nesterov = true, CoupledWeightDecay = 1e-4 },
        new Adagrad { LearningRate = 0.02, InitialAccumulatorValue = 0.2 },
        new Adadelta { LearningRate = 1.0, Rho = 0.9 },
        new RmsProp { Momentum = 0.5, Centered = true },
        new Adam { Amsgrad = true, Beta1 = 0.8 },
        new AdamW { DecoupledWeightDecay = 0.01 },
        new Adamax { Beta2 = 0.99 },
        new Nadam { MomentumDecay = 0.005 },
        new Ftrl { L1 = 0.1, L2 = 0.2, L2Shrinkage = 0.3, Beta = 0.4, LearningRatePower = -0.25 },
        new Lbfgs { HistorySize = 7 },
    };

    [Theory]
    [MemberData(nameof(All))]
    public void RoundTripsThroughJsonAsTheBaseType(Optimizer optimizer)
    {
        var json = JsonSerializer.Serialize(optimizer);
        var back = JsonSerializer.Deserialize<Optimizer>(json)!;
        Assert.Equal(optimizer.GetType(), back.GetType());
        Assert.Equal(json, JsonSerializer.Serialize(back));
        Assert.Contains($"\"kind\":\"{optimizer.Name.Replace("nesterov", "sgd")}\"", json);
    }

    [Fact]
    public void NonPositiveLearningRateIsRejected()
    {
        Optimizer[] bad =
        {
            new Sgd { LearningRate = -3 }, new Adagrad { LearningRate = -3 }, new Adadelta { LearningRate = -3 }, new RmsProp { LearningRate = -3 },
            new Adam { LearningRate = -3 }, new AdamW { LearningRate = -3 }, new Adamax { LearningRate = -3 }, new Nadam { LearningRate = -3 },
            new Ftrl { LearningRate = -3 }, new Lbfgs { LearningRate = -3 },
        };
        foreach (var optimizer in bad)
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.CreateUpdater(Array.Empty<ParameterGroup>()));
            Assert.Contains($"{optimizer.GetType().Name}.LearningRate must be a finite number > 0. Received: LearningRate=-3", e.Message);
        }
    }

    [Theory]
    [MemberData(nameof(All))]
    public void GroupMultipliersScaleTheRate(Optimizer optimizer)
    {
        if (optimizer is Lbfgs) return; // one flat vector: different multipliers are refused (LbfgsTests)
        // Two identical parameters, one at multiplier 1 and one at 0: only the first may move.
        var a = new Parameter(tensor(new[] { 1.0, -2.0 }, dtype: ScalarType.Float64));
        var b = new Parameter(tensor(new[] { 1.0, -2.0 }, dtype: ScalarType.Float64));
        using var updater = optimizer.CreateUpdater(new[] { new ParameterGroup("a", new[] { a }, 1.0), new ParameterGroup("b", new[] { b }, 1e-30) });
        updater.SetLearningRate(optimizer.LearningRate);
        for (int s = 0; s < 2; s++)
        {
            updater.ZeroGrad();
            ((a - 3).square().sum() + (b - 3).square().sum()).backward();
            updater.Step();
        }
        var movedA = (a - tensor(new[] { 1.0, -2.0 }, dtype: ScalarType.Float64)).abs().max().ToDouble();
        var movedB = (b - tensor(new[] { 1.0, -2.0 }, dtype: ScalarType.Float64)).abs().max().ToDouble();
        Assert.True(movedA > 1e-6, $"{optimizer}: the multiplier-1 group did not move");
        if (optimizer is not Ftrl) // FTRL recomputes w from its accumulators, so a tiny rate does not mean "stay put"
            Assert.True(movedB < 1e-20, $"{optimizer}: the multiplier-0 group moved by {movedB}");
    }
}
