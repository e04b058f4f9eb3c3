using System.Diagnostics;
using Microsoft.ML;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Sweeps;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Sweeps;

/// <summary>Sweeps through the real CNN estimator on a Fashion-MNIST subset.</summary>
[Trait("Category", "Training")]
public class CnnSweepTests
{
    private readonly ITestOutputHelper _out;
    public CnnSweepTests(ITestOutputHelper output) { _out = output; }

    [Fact]
    public void Tuned_cnn_beats_the_trainer_defaults_on_a_fashion_mnist_subset()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Source.StartsWith("MLNetDeep.Sweep")) lock (log) log.Add(e.Message); };
        var data = TestData.TrainView(ml, 1000);
        var test = TestData.TestView(ml, 1000);
        // Seed 0 as when this test was written (the trainers' seed now defaults to the MLContext's, 1 here): with 6 trials on
        // 800 rows the margin over the defaults is about a point, so the seed matters.
        var template = new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = 2, Seed = 0 };
        var split = SweepData.Split(ml, data, 0.2, ml.Transforms.Conversion.MapValueToKey("Label"));

        // the trainer's defaults (Adam 1e-3, batch 64, the default body and head), same data, same epochs
        var sw = Stopwatch.StartNew();
        var defaultModel = split.Preprocessing!.Append(ml.MulticlassClassification.Trainers.Cnn(
            new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = 2, Seed = 0 }).Fit(split.Train));
        double defaultAcc = ml.MulticlassClassification.Evaluate(defaultModel.Transform(test)).MicroAccuracy;
        _out.WriteLine($"default: test accuracy {defaultAcc:F4} ({sw.Elapsed.TotalSeconds:F1}s)");

        // a custom space (few trials on 2 shared cores): the default one narrowed to Adam's learning rate and the batch
        // size; every fixed parameter keeps CnnSearchParameters' default, which is the trainer's default
        var space = CnnSweep.DefaultSpace()
            .Range(p => p.LearningRate, 1e-3, 1e-2, logScale: true)
            .Choice(p => p.BatchSize, 32, 64)
            .Fix(p => p.Optimizer).Fix(p => p.L2).Fix(p => p.Filters).Fix(p => p.ConvBlocks)
            .Fix(p => p.Head.HiddenSize).Fix(p => p.Head.Dropout).Fix(p => p.Head.InputDropout);
        sw.Restart();
        var ended = new List<TrialRecord>();
        var result = CnnSweep.Multiclass(ml, split, template, new SweepOptions
        {
            MaxTrials = 6,
            Tuner = new TpeTuner { Seed = 1, StartupTrials = 4 },
            Scheduler = new AshaScheduler { MinEpochs = 1, ReductionFactor = 2 },
            OnTrialEnd = ended.Add,
        }, space);
        _out.WriteLine($"sweep: {result.Trials.Count} trials ({result.Completed} completed, {result.Pruned} stopped early, {result.Failed} failed) in {sw.Elapsed.TotalSeconds:F1}s");
        foreach (var t in result.Trials) _out.WriteLine($"  #{t.Number} {t.Status} {t.Value:F4} {t.Parameters}");

        Assert.Equal(6, result.Trials.Count);
        Assert.Equal(6, ended.Count);
        Assert.All(result.Trials, t => Assert.True(t.IsFinished));
        Assert.All(result.Trials.Where(t => t.Status == TrialStatus.Completed), t => Assert.Equal(new[] { 1, 2 }, t.Intermediate.Keys));
        Assert.All(result.Trials.Where(t => t.Status == TrialStatus.Pruned), t => Assert.Equal(new[] { 1 }, t.Intermediate.Keys));
        Assert.True(result.Pruned >= 1, "ASHA (η=2) should stop at least one trial after its first epoch");
        Assert.Contains(log, m => m.Contains("trial 0 started"));

        var best = Assert.IsAssignableFrom<ITransformer>(result.BestModel);
        var bestOptions = Assert.IsType<CnnOptions>(result.BestOptions);
        Assert.Equal(result.BestParameters!.Get<double>("LearningRate"), bestOptions.Optimizer.LearningRate);
        Assert.Empty(template.Callbacks);      // the template was not touched
        Assert.Null(template.Layers);
        double tunedAcc = ml.MulticlassClassification.Evaluate(best.Transform(test)).MicroAccuracy;
        _out.WriteLine($"tuned: test accuracy {tunedAcc:F4} vs default {defaultAcc:F4}; best {result.BestParameters}");
        Assert.True(tunedAcc > defaultAcc, $"tuned {tunedAcc:F4} should beat the defaults' {defaultAcc:F4}");
    }

    [Fact]
    public void Cross_validated_sweep_trains_every_fold_and_averages()
    {
        var ml = new MLContext(seed: 1);
        var folds = SweepData.KFold(ml, TestData.TrainView(ml, 400), folds: 2, ml.Transforms.Conversion.MapValueToKey("Label"));
        Assert.Equal(2, folds.Count);
        var space = CnnSweep.DefaultSpace().Choice(p => p.Filters, 8).Range(p => p.ConvBlocks, 1, 1).Choice(p => p.Head.HiddenSize, 32);
        int fits = 0;
        var template = new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = 1, OnEpochEnd = _ => Interlocked.Increment(ref fits) };
        var result = CnnSweep.Multiclass(ml, folds, template, new SweepOptions { MaxTrials = 2, Tuner = new RandomTuner { Seed = 2 } }, space);
        Assert.Equal(2, result.Completed);
        Assert.Equal(4, fits);                                       // 2 trials x 2 folds, 1 epoch each
        Assert.All(result.Trials, t => Assert.Equal(new[] { 1 }, t.Intermediate.Keys)); // the first fold's epochs
        Assert.All(result.Trials, t => Assert.InRange(t.Value!.Value, 0.0, 1.0));
        Assert.IsAssignableFrom<ITransformer>(result.BestModel);
    }
}
