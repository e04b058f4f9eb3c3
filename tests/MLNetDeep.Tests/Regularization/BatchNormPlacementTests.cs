using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Control;
using Xunit;

namespace MLNetDeep.Tests.Regularization;

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
