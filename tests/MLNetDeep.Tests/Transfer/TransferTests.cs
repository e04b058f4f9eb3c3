using Microsoft.ML;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Control;
using MLNetDeep.Tests.Support;
using MLNetDeep.Transfer;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Transfer;

[Trait("Category", "Training")]
public class TransferTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly string[] First = { "T-shirt/top", "Pullover", "Coat", "Shirt", "Bag" };
    private static readonly string[] Second = { "Trouser", "Dress", "Sandal", "Sneaker", "Ankle boot" };
    private static readonly Lazy<(IDataView Train, IDataView Test)> FirstData = new(() => Subset(First, 2000, 1000));
    private static readonly Lazy<(IDataView Train, IDataView Test)> SecondData = new(() => Subset(Second, 200, 1000));
    private static readonly Lazy<DeepTransformer> Pretrained = new(() => ControlKit.Fit(Cnn(epochs: 3), FirstData.Value.Train));
    private readonly ITestOutputHelper _out;

    public TransferTests(ITestOutputHelper output) => _out = output;

    /// <summary>Rows of the given classes only, with a key over exactly those classes.</summary>
    private static (IDataView Train, IDataView Test) Subset(string[] classes, int train, int test)
    {
        var set = classes.ToHashSet();
        var trainRows = TestData.TrainImages(20000).Where(i => set.Contains(i.Label)).Take(train).ToList();
        var testRows = TestData.TestImages(10000).Where(i => set.Contains(i.Label)).Take(test).ToList();
        var key = Ml.Transforms.Conversion.MapValueToKey("Label").Fit(Ml.Data.LoadFromEnumerable(trainRows));
        return (key.Transform(Ml.Data.LoadFromEnumerable(trainRows)), key.Transform(Ml.Data.LoadFromEnumerable(testRows)));
    }

    private static CnnOptions Cnn(int epochs)
    {
        var o = ControlKit.Mlp(new[] { 32 }, epochs: epochs);
        o.Layers = new List<CnnLayer> { new ConvBlock(8, 3, PoolingKind.Max), new ConvBlock(16, 3, PoolingKind.Max) };
        o.Head = new DenseHead { HiddenSizes = new() { 32 }, Dropout = 0, InputDropout = 0 };
        return o;
    }

    private static Dictionary<string, float[]> State(TorchSharp.torch.nn.Module m) =>
        m.state_dict().ToDictionary(kv => kv.Key, kv => ControlKit.Flat(kv.Value.to(TorchSharp.torch.ScalarType.Float32)));

    [Fact]
    public void Frozen_blocks_stay_bit_identical_and_the_rest_trains()
    {
        var options = Cnn(epochs: 1);
        options.WarmStartFrom = Pretrained.Value;
        options.Transfer = new TransferOptions { FreezeBlocks = 1 };
        using var tuned = ControlKit.Fit(options, FirstData.Value.Train);
        var before = State(Pretrained.Value.Network);
        var after = State(tuned.Network);
        foreach (var name in before.Keys.Where(k => k.StartsWith("body.block0.")))
            Assert.True(before[name].SequenceEqual(after[name]), $"{name} changed"); // weights and batch-norm statistics
        Assert.False(before["body.block1.conv.weight"].SequenceEqual(after["body.block1.conv.weight"]));
        Assert.False(before["head.layers.output.weight"].SequenceEqual(after["head.layers.output.weight"]));
        Assert.All(tuned.Network.parameters(), p => Assert.True(p.requires_grad)); // unfrozen again after training
    }

    [Fact]
    public void A_zero_body_rate_multiplier_trains_only_the_head()
    {
        var options = Cnn(epochs: 1);
        options.WarmStartFrom = Pretrained.Value;
        options.Transfer = new TransferOptions { BodyLearningRateMultiplier = 0, LearningRateMultipliers = new Dictionary<string, double> { ["head.layers.dense0"] = 0 } };
        using var tuned = ControlKit.Fit(options, FirstData.Value.Train);
        var before = State(Pretrained.Value.Network);
        var after = State(tuned.Network);
        Assert.True(before["body.block1.conv.weight"].SequenceEqual(after["body.block1.conv.weight"]));
        Assert.True(before["head.layers.dense0.weight"].SequenceEqual(after["head.layers.dense0.weight"]));
        Assert.False(before["head.layers.output.weight"].SequenceEqual(after["head.layers.output.weight"]));
    }

    [Fact]
    public void A_model_pretrained_on_five_classes_fine_tunes_to_five_others_faster_than_from_scratch()
    {
        // Reusing the conv body with a fresh head transfers; reusing the pretrained dense layer too (ReplaceOutputLayer
        // only) was measured worse than scratch here (0.721 vs 0.809 after 4 epochs): its units had specialised.
        using var scratch = ControlKit.Fit(Cnn(epochs: 4), SecondData.Value.Train, SecondData.Value.Test);
        var tuneOptions = Cnn(epochs: 4);
        tuneOptions.WarmStartFrom = Pretrained.Value;
        tuneOptions.Transfer = new TransferOptions { ReinitializeModules = new[] { "head" } };
        using var tuned = ControlKit.Fit(tuneOptions, SecondData.Value.Train, SecondData.Value.Test);
        string Curve(MLNetDeep.Scoring.DeepTransformer m) => string.Join(" ", m.History.Epochs.Select(e => e.ValidationMetrics["accuracy"].ToString("F3")));
        _out.WriteLine($"200 labeled images of 5 new classes, accuracy per epoch on 1000 test images: from scratch {Curve(scratch)}; conv body pretrained on 5 other classes {Curve(tuned)}");
        // "Faster": ahead on most epochs and on the mean of the learning curve. The last epoch alone is not a
        // robust signal at this size (measured 0.835 vs 0.840 with this seed, 0.851 vs 0.809 with another shuffle).
        var pairs = tuned.History.Epochs.Zip(scratch.History.Epochs, (t, s) => (T: t.ValidationMetrics["accuracy"], S: s.ValidationMetrics["accuracy"])).ToList();
        double gain = pairs.Average(p => p.T - p.S);
        Assert.True(gain > 0.02, $"mean accuracy gain over the 4 epochs {gain:F3}");
        Assert.True(pairs.Count(p => p.T > p.S) >= 3, "fine-tuned model ahead on fewer than 3 of 4 epochs");
        Assert.Equal(Second.OrderBy(x => x), tuned.ClassNames.OrderBy(x => x));
    }

    [Fact]
    public void Mistakes_get_clear_messages()
    {
        var options = Cnn(epochs: 1);
        options.Transfer = new TransferOptions { FreezeBlocks = 1 };
        Assert.Contains("WarmStartFrom is not set", Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(options, FirstData.Value.Train)).Message);

        options.WarmStartFrom = Pretrained.Value;
        options.Transfer = new TransferOptions { FreezeBlocks = 3 };
        Assert.Contains("no such module", Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(options, FirstData.Value.Train)).Message);

        options.Transfer = null;
        var (tenClass, _) = ControlKit.Data(Ml, 200, 10);
        Assert.Contains("ReplaceOutputLayer = true", Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(options, tenClass)).Message);

        options.Transfer = new TransferOptions { FreezeBlocks = -1 };
        Assert.Contains("Received: FreezeBlocks=-1", Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(options, FirstData.Value.Train)).Message);
    }
}
