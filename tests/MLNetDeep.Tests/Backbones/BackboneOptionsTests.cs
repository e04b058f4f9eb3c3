using Microsoft.ML;
using MLNetDeep.Models.Backbones;
using MLNetDeep.Models.Cnn;
using Xunit;

namespace MLNetDeep.Tests.Backbones;

/// <summary>Backbone options: clear errors naming the option and the value, the log and history of a two-phase fit, the user's options untouched.</summary>
[Collection("Backbones")]
[Trait("Category", "Training")]
public sealed class BackboneOptionsTests
{
    private static (MLContext Ml, IDataView Train) Data(int rows = 48)
    {
        var ml = new MLContext(seed: 1);
        return (ml, BackboneData.Views(ml, rows, 1).Train);
    }

    [Fact]
    public void LayersWithBackbone_FineTuneWithoutBackbone_AndBadFineTune_AreRefusedNamingTheOption()
    {
        var (ml, train) = Data(8);
        var both = BackboneData.Options();
        both.Layers = CnnOptions.DefaultLayers();
        var e1 = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.Cnn(both).Fit(train));
        Assert.Equal(nameof(CnnOptions.Layers), e1.ParamName);

        var noBackbone = new CnnOptions { ImageShape = BackboneData.Shape, FineTune = new FineTuneOptions() };
        var e2 = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.Cnn(noBackbone).Fit(train));
        Assert.Contains("needs a Backbone", e2.Message);

        var tooMany = BackboneData.Options(fineTune: new FineTuneOptions { TrainableBlocks = 11 });
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Cnn(tooMany).Fit(train));
        Assert.Contains("Received: TrainableBlocks=11", e3.Message);
        Assert.Contains("10 blocks", e3.Message);

        var checkpoints = BackboneData.Options();
        checkpoints.Checkpoints = new MLNetDeep.Checkpoints.CheckpointOptions { Directory = Path.GetTempPath() };
        Assert.Equal(nameof(CnnOptions.Checkpoints), Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.Cnn(checkpoints).Fit(train)).ParamName);
    }

    [Fact]
    public void ImagesTheBackboneCantTake_AndAMissingPackageFolder_GiveClearErrors()
    {
        var (ml, train) = Data(8);
        var small = BackboneData.Options();
        small.ImageShape = new ImageShape(1, 16, 16);
        var e1 = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.Cnn(small).Fit(train));
        Assert.Contains("can't take 16 x 16 images", e1.Message);

        var channels = BackboneData.Options();
        channels.ImageShape = new ImageShape(2, 64, 64);
        var e2 = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.Cnn(channels).Fit(train));
        Assert.Contains("takes 3-channel images", e2.Message);

        var e3 = Assert.Throws<FileNotFoundException>(() => Backbone.ResNet18("/nonexistent/DnnImageModels"));
        Assert.Contains("Microsoft.ML.DnnImageFeaturizer.ResNet18", e3.Message);
    }

    [Fact]
    public void TwoPhaseFit_ShowsItsPhasesInTheLogAndHistory_WithoutTheScaleAdvice_AndLeavesTheOptionsAlone()
    {
        var (ml, train) = Data();
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Kind is Microsoft.ML.Runtime.ChannelMessageKind.Info or Microsoft.ML.Runtime.ChannelMessageKind.Warning) lock (log) log.Add(e.RawMessage); };
        var fineTune = new FineTuneOptions { Epochs = 1, TrainableBlocks = 1 };
        var options = BackboneData.Options(epochs: 2, fineTune);
        var backbone = options.Backbone;
        using var model = ml.MulticlassClassification.Trainers.Cnn(options).Fit(train);

        Assert.Equal(new[] { 1, 2, 3 }, model.History.Epochs.Select(e => e.Epoch));
        Assert.Equal(new[] { "head", "head", "fine-tune" }, model.History.Epochs.Select(e => e.Phase));
        Assert.All(model.History.Epochs, e => Assert.Equal(3, e.Epochs));
        Assert.Equal(new[] { (1, 2, 10), (3, 3, 9) }, model.History.Phases.Select(p => (p.FirstEpoch, p.LastEpoch, p.FrozenBlocks)));
        Assert.Contains(log, l => l.StartsWith("phase 1/2 head: head on the frozen ResNet18", StringComparison.Ordinal));
        Assert.Contains(log, l => l.StartsWith("[phase 2/2 fine-tune] epoch 1/1", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("computed the frozen blocks' outputs", StringComparison.Ordinal));
        Assert.DoesNotContain(log, l => l.Contains("Feature values reach", StringComparison.Ordinal)); // the cached activations are not pixels to scale

        Assert.Equal(2, options.Epochs);
        Assert.Same(backbone, options.Backbone);
        Assert.Same(fineTune, options.FineTune);
        Assert.Null(options.WarmStartFrom);
        Assert.Null(options.Transfer);
        Assert.Equal(0, options.ValidationFraction);
    }

    [Fact]
    public void PixelsIn0To255_AreWarnedAbout()
    {
        var ml = new MLContext(seed: 1);
        var rows = BackboneData.Rows(train: true, 16);
        foreach (var r in rows) for (int i = 0; i < r.Features.Length; i++) r.Features[i] *= 255;
        var raw = BackboneData.Raw(ml, rows);
        var train = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.RawMessage); };
        using var model = ml.MulticlassClassification.Trainers.Cnn(BackboneData.Options(epochs: 1)).Fit(train);
        Assert.Contains(warnings, w => w.Contains("(training data) reaches ") && w.Contains("ExtractPixels(scaleImage: 1f / 255)"));
    }
}
