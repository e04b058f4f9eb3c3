using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Control;
using Xunit;
using MLNetDeep.Tasks;

namespace MLNetDeep.Tests.Regularization;

[Trait("Category", "Training")]
public class BatchNormPlacementTests
{
    private static readonly MLContext Ml = new(seed: 1);

    [Fact]
    public void Batch_norm_can_follow_the_activation_and_survives_save_and_load()
    {
        var (train, test) = ControlKit.Data(Ml, 400, 200);
        var options = ControlKit.Mlp(new[] { 32 }, epochs: 1, batchNorm: true);
        options.Head.BatchNormPlacement = BatchNormPlacement.AfterActivation;
        options.Layers = new List<CnnLayer> { new ConvBlock(4, 3, PoolingKind.Max) { BatchNormPlacement = BatchNormPlacement.AfterActivation } };
        using var model = ControlKit.Fit(options, train, test);

        var head = model.Network.named_modules().Single(m => m.name == "head.layers").module;
        Assert.Equal(new[] { "dense0", "dense0_act", "dense0_bn", "output" }, head.named_children().Select(c => c.name).ToArray());
        Assert.Contains(model.Network.named_parameters(), p => p.name == "body.block0.conv.bias"); // the conv keeps its bias
        Assert.True(model.History.Epochs[^1].ValidationMetrics["accuracy"] > 0.3);

        using var ms = new MemoryStream();
        model.Save(ms);
        ms.Position = 0;
        using var loaded = DeepTransformer.Load(ms);
        Assert.Equal(model.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s), loaded.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s));
    }
}

[Trait("Category", "Unit")]
public class BinaryRegularizationTests
{
    private sealed class Row
    {
        [VectorType(784)] public float[] Features { get; set; } = Array.Empty<float>();
        public bool Label { get; set; }
    }

    [Fact]
    public void Binary_training_takes_label_smoothing_and_balanced_class_weights()
    {
        var ml = new MLContext(seed: 1);
        IDataView View(IEnumerable<MLNetDeep.Datasets.FashionMnistImage> images) =>
            ml.Data.LoadFromEnumerable(images.Select(i => new Row { Features = i.Features, Label = i.Label == "Trouser" }).ToList());
        var train = View(MLNetDeep.Tests.Support.TestData.TrainImages(1000));
        var test = View(MLNetDeep.Tests.Support.TestData.TestImages(500));
        var options = ControlKit.Mlp(new[] { 16 }, epochs: 2);
        options.Regularization = new MLNetDeep.Regularization.RegularizationOptions { LabelSmoothing = 0.1, BalanceClasses = true };
        using var model = new MLNetDeep.Models.Cnn.CnnTrainer(options, MLNetDeep.Tasks.PredictionKind.BinaryClassification).Fit(train, test);
        var metrics = ml.BinaryClassification.EvaluateNonCalibrated(model.Transform(test));
        Assert.True(metrics.Accuracy > 0.9, $"accuracy {metrics.Accuracy}");
        Assert.True(metrics.PositiveRecall > 0.8, $"recall of the rare class {metrics.PositiveRecall}");
    }
}
