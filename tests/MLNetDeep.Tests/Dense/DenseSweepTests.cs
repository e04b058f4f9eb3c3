using Microsoft.ML;
using MLNetDeep.Models.Dense;
using MLNetDeep.Sweeps;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Dense;

/// <summary>DenseSweep on real tables: the default space, multiclass (LetterRecognition) and regression (BostonHousing).</summary>
[Trait("Category", "Training")]
public sealed class DenseSweepTests(ITestOutputHelper output)
{
    [Fact]
    public void Multiclass_Letters_RandomTrials_GiveTheBestOptionsAndModel()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = TabularData.Letters(ml, take: 3000);
        var prep = ml.Transforms.Concatenate("Features", Datasets.Mlbench.LetterFeatures.ToArray()).Append(ml.Transforms.NormalizeMeanVariance("Features")).Fit(train);
        var template = new MlpOptions { Epochs = 2, Seed = 0, LabelColumnName = Datasets.Mlbench.LetterLabel };
        var space = DenseSweep.DefaultSpace().Fix(p => p.L2).Choice(p => p.Width, 64, 128).Range(p => p.Depth, 1, 3);
        var result = DenseSweep.Run(ml, prep.Transform(train), template, SweepMetric.Accuracy,
            new SweepOptions { MaxTrials = 4, Tuner = new RandomTuner { Seed = 3 } }, space);
        foreach (var t in result.Trials) output.WriteLine($"#{t.Number} {t.Status} {t.Value:F4} {t.Parameters}");
        Assert.Equal(4, result.Trials.Count(t => t.Status == TrialStatus.Completed));
        var best = Assert.IsType<MlpOptions>(result.BestOptions);
        int depth = result.BestParameters!.Get<int>("Depth"), width = result.BestParameters.Get<int>("Width");
        Assert.Equal(Enumerable.Repeat(width, depth), best.HiddenSizes);
        Assert.Equal(result.BestParameters.Get<double>("LearningRate"), best.Optimizer.LearningRate);
        Assert.Equal(new List<int> { 128, 128 }, template.HiddenSizes); // the template is untouched
        Assert.Empty(template.Callbacks);
        // the best model is the label mapping + MLP, ready for the featurised test rows
        double accuracy = ml.MulticlassClassification.Evaluate(((ITransformer)result.BestModel!).Transform(prep.Transform(test)), Datasets.Mlbench.LetterLabel).MicroAccuracy;
        output.WriteLine($"best on the test rows: {accuracy:F4} ({result.BestParameters})");
        Assert.True(Math.Abs(accuracy - result.BestTrial!.Value!.Value) < 0.1, $"test {accuracy:F4} vs validation {result.BestTrial.Value:F4}");
    }

    [Fact]
    public void Regression_Boston_UsesTheRegressionTrainer()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = TabularData.Boston(ml);
        var data = TabularData.BostonFeaturisation(ml).Fit(train).Transform(train);
        var result = DenseSweep.Run(ml, data, new MlpOptions { Epochs = 5, Seed = 0 }, SweepMetric.Rmse,
            new SweepOptions { MaxTrials = 2, Tuner = new RandomTuner { Seed = 1 } });
        Assert.Equal(2, result.Trials.Count(t => t.Status == TrialStatus.Completed));
        Assert.All(result.Trials, t => Assert.InRange(t.Value!.Value, 0.5, 30)); // rmse in k$ (label sd ≈ 9)
        Assert.Equal(Tasks.PredictionKind.Regression, Scoring.ModelExtensions.GetDeepTransformer((ITransformer)result.BestModel!).Kind);
    }
}
