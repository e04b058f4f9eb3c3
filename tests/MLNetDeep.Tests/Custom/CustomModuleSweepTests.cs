using Microsoft.ML;
using MLNetDeep.Models.Custom;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;
using MLNetDeep.Sweeps;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Custom;

/// <summary>The search space of the sweep below: the module's width (a module option) and the trainer's learning rate.</summary>
public sealed class MlpSearch
{
    [Choice(4, 64)] public int Hidden { get; set; } = 32;
    [Range(1e-3, 1e-2, logBase: true)] public double LearningRate { get; set; } = 1e-3;
}

/// <summary>A sweep over a custom module's own options and the trainer's, through the trainer-backed objective.</summary>
public sealed class CustomModuleSweepTests
{
    private readonly ITestOutputHelper _out;

    public CustomModuleSweepTests(ITestOutputHelper output)
    {
        _out = output;
        TestModules.EnsureRegistered();
    }

    [Fact]
    public void GridSweep_OverModuleOptions_PicksTheWiderModule_AndItsModelIsThatModule()
    {
        var ml = new MLContext(seed: 1);
        var split = SweepData.Split(ml, TestData.TrainView(ml, 1000), 0.2, ml.Transforms.Conversion.MapValueToKey("Label"));
        var space = new SearchSpace<MlpSearch>();
        var objective = new TrainerObjective<MlpSearch>(ml, space, split, SweepMetric.Accuracy, (p, setup) =>
        {
            var o = new CustomModuleOptions
            {
                ModuleName = TestModules.Mlp,
                InputShape = new[] { 784 },
                ModuleOptions = new MlpOptions { Hidden = p.Hidden },
                Optimizer = new Adam { LearningRate = p.LearningRate },
                Epochs = 1,
                Seed = 1,
                ValidationData = setup.ValidationData,
            };
            o.Callbacks.Add(setup.Callback);
            return ml.MulticlassClassification.Trainers.CustomModule(o);
        });
        var result = Sweeper.Run(space, objective, new SweepOptions { Tuner = new GridTuner { PointsPerRange = 2 }, MaxTrials = 4 }, ml);
        foreach (var t in result.Trials) _out.WriteLine($"#{t.Number} {t.Status} {t.Value:F4} {t.Parameters}");

        Assert.Equal(4, result.Trials.Count);
        Assert.All(result.Trials, t => Assert.Equal(TrialStatus.Completed, t.Status));
        var best = space.Bind(result.BestTrial!.Parameters);
        Assert.Equal(64, best.Hidden); // 4 hidden units can't hold ten classes as well as 64
        double worstWide = result.Trials.Where(t => space.Bind(t.Parameters).Hidden == 64).Min(t => t.Value!.Value);
        double bestNarrow = result.Trials.Where(t => space.Bind(t.Parameters).Hidden == 4).Max(t => t.Value!.Value);
        Assert.True(worstWide > bestNarrow, $"every 64-unit trial should beat every 4-unit one: {worstWide:F4} vs {bestNarrow:F4}");

        var model = ((ITransformer)result.BestModel!).GetDeepTransformer();
        var hidden = ((TorchSharp.Modules.Sequential)((CustomNetwork)model.Network).Module).named_children().First(c => c.name == "hidden").module;
        Assert.Equal(64, ((TorchSharp.Modules.Linear)hidden).out_features);
    }
}
