using Microsoft.ML;
using MLNetDeep.Models.Backbones;
using MLNetDeep.Models.Cnn;
using MLNetDeep.OnnxImport;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Backbones;

/// <summary>
/// ResNet18 (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18) under the CNN trainer's head on real Fashion-MNIST images
/// (64 × 64, grey repeated to RGB): frozen weights stay bit-identical, cached outputs train the same weights as the
/// frozen blocks run every step, both phases show in the history and the log.
/// </summary>
[Collection("Backbones")]
[Trait("Category", "Training")]
public sealed class BackboneTrainingTests
{
    private readonly ITestOutputHelper _out;
    public BackboneTrainingTests(ITestOutputHelper output) => _out = output;

    private static Dictionary<string, Tensor> State(TorchSharp.torch.nn.Module m) =>
        m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    [Fact]
    public void HeadPhase_KeepsEveryBackboneWeightAndStatistic_BitIdentical_AndLearns()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = BackboneData.Views(ml, 160, 100);
        var options = BackboneData.Options(epochs: 20);
        using var model = ml.MulticlassClassification.Trainers.Cnn(options).Fit(train);

        // the file's own weights, imported independently
        using var reference = OnnxNetwork.Load(OnnxFiles.ResNet18, new OnnxImportOptions { OutputName = Backbone.ResNet18Features });
        var expected = reference.state_dict();
        var trained = ((BackboneNetwork)model.Network).Backbone.state_dict();
        Assert.Equal(expected.Count, trained.Count);
        foreach (var (name, value) in expected)
            Assert.True(value.eq(trained[name]).all().item<bool>(), $"{name} changed in the head phase");

        foreach (var e in model.History.Epochs) _out.WriteLine(e.ToString());
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        _out.WriteLine($"accuracy {metrics.MicroAccuracy:F4} after {model.History.Epochs.Count} epochs; phases: {string.Join(" | ", model.History.Phases.Select(p => p.Description))}");
        Assert.True(metrics.MicroAccuracy > 0.6, $"accuracy {metrics.MicroAccuracy:F4} (10 classes; chance 0.1)");
        Assert.Equal("head", Assert.Single(model.History.Phases).Name);
        Assert.True(model.History.Phases[0].CachedFeatures);
        Assert.All(model.History.Epochs, e => Assert.Equal("head", e.Phase));
    }

    [Fact]
    public void CachedOutputs_TrainTheSameWeights_AsRunningTheFrozenBlocksEveryStep()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = BackboneData.Views(ml, 96, 1);
        var fineTune = new FineTuneOptions { Epochs = 1, TrainableBlocks = 1, LearningRateMultiplier = 0.1 };
        var cachedOptions = BackboneData.Options(epochs: 1, fineTune);
        cachedOptions.ValidationFraction = 0.25;
        var uncachedOptions = cachedOptions.Clone();
        uncachedOptions.CacheFrozenBlocks = false;
        using var cached = ml.MulticlassClassification.Trainers.Cnn(cachedOptions).Fit(train);
        using var uncached = ml.MulticlassClassification.Trainers.Cnn(uncachedOptions).Fit(train);
        Assert.All(cached.History.Phases, p => Assert.True(p.CachedFeatures));
        Assert.All(uncached.History.Phases, p => Assert.False(p.CachedFeatures));

        var a = cached.Network.state_dict();
        var b = uncached.Network.state_dict();
        double worst = 0;
        string worstName = "";
        foreach (var (name, value) in a)
        {
            double diff = (value.to(ScalarType.Float64) - b[name].to(ScalarType.Float64)).abs().max().item<double>();
            if (diff > worst) (worst, worstName) = (diff, name);
        }
        _out.WriteLine($"largest weight difference cached vs uncached: {worst:G3} ({worstName})");
        // the trained block and the head moved: the comparison is not between two untouched networks
        using var reference = OnnxNetwork.Load(OnnxFiles.ResNet18, new OnnxImportOptions { OutputName = Backbone.ResNet18Features });
        var fresh = reference.state_dict();
        var topBlock = fresh.Keys.Where(k => k.StartsWith("block9.", StringComparison.Ordinal) && !k.Contains("Mean") && !k.Contains("Var")).ToList();
        Assert.Contains(topBlock, k => !fresh[k].eq(a["body." + k]).all().item<bool>());
        Assert.True(worst < 1e-5, $"cached and uncached weights differ by {worst:G3} at {worstName}");
        for (int e = 0; e < cached.History.Epochs.Count; e++)
            Assert.Equal(cached.History.Epochs[e].TrainLoss, uncached.History.Epochs[e].TrainLoss, 5);
    }

    [Fact]
    public void FineTuneAugmentation_AugmentsTheFineTunePhaseOnly_TheHeadPhaseStaysCached_AndTheFrozenBlocksStayPut()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = BackboneData.Views(ml, 96, 1);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info) lock (log) log.Add(e.RawMessage); };
        var augmentation = new MLNetDeep.Augmentation.ImageAugmentation { HorizontalFlipProbability = 0.5, MaxShiftPixels = 6, FillMode = MLNetDeep.Augmentation.AugmentationFillMode.Nearest };
        var plain = BackboneData.Options(epochs: 1, new FineTuneOptions { Epochs = 2, TrainableBlocks = 1, LearningRateMultiplier = 0.1 });
        var augmented = BackboneData.Options(epochs: 1, new FineTuneOptions { Epochs = 2, TrainableBlocks = 1, LearningRateMultiplier = 0.1, Augmentation = augmentation });
        using var withoutIt = ml.MulticlassClassification.Trainers.Cnn(plain).Fit(train);
        using var model = ml.MulticlassClassification.Trainers.Cnn(augmented).Fit(train);

        // phase 1 trains on the cached outputs, unaugmented, exactly as without the option; phase 2 runs from the images
        Assert.Equal(new[] { true, false }, model.History.Phases.Select(p => p.CachedFeatures));
        Assert.Equal(new[] { true, true }, withoutIt.History.Phases.Select(p => p.CachedFeatures));
        Assert.Equal(withoutIt.History.Epochs[0].TrainLoss, model.History.Epochs[0].TrainLoss, 6);
        _out.WriteLine($"fine-tune losses without / with augmentation: {withoutIt.History.Epochs[1].TrainLoss:F4} / {model.History.Epochs[1].TrainLoss:F4}");
        Assert.NotEqual(withoutIt.History.Epochs[1].TrainLoss, model.History.Epochs[1].TrainLoss, 4);
        Assert.Contains(log, l => l.Contains("in phase fine-tune the frozen blocks run on every step (its augmentation is on)", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("phase head trains on them, without augmentation", StringComparison.Ordinal));

        // the 9 frozen blocks are still the pretrained ones, bit for bit, though they ran in the augmented phase; the top block trained
        using var reference = OnnxNetwork.Load(OnnxFiles.ResNet18, new OnnxImportOptions { OutputName = Backbone.ResNet18Features });
        var fresh = reference.state_dict();
        var trained = model.Network.state_dict();
        foreach (var (name, value) in fresh.Where(kv => !kv.Key.StartsWith("block9.", StringComparison.Ordinal)))
            Assert.True(value.eq(trained["body." + name]).all().item<bool>(), $"frozen {name} changed");
        Assert.Contains(fresh.Keys.Where(k => k.StartsWith("block9.", StringComparison.Ordinal) && !k.Contains("Mean") && !k.Contains("Var")),
            k => !fresh[k].eq(trained["body." + k]).all().item<bool>());
        Assert.Null(augmented.Augmentation); // the user's options are not changed
    }
}
