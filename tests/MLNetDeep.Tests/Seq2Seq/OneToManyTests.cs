using MLNetDeep.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Seq2Seq;

/// <summary>One-to-many: a real Fashion-MNIST image in, its class name spelled out letter by letter (a tiny captioning task).</summary>
public sealed class OneToManyTests
{
    private readonly ITestOutputHelper _out;
    public OneToManyTests(ITestOutputHelper output) => _out = output;

    /// <summary>Every character of the ten class names, ids 1..N in this order.</summary>
    private static readonly string Characters = new(FashionMnist.ClassNames.SelectMany(n => n).Distinct().OrderBy(c => c).ToArray());

    private static int[] Spell(string name) => name.Select(c => Characters.IndexOf(c) + 1).ToArray();
    private static string Read(int[] ids) => new(ids.Select(i => Characters[i - 1]).ToArray());

    [Fact]
    public void ImageToClassName_SpellsHeldOutImagesCorrectly()
    {
        var arch = new Seq2SeqArchitecture
        {
            Input = new FixedShapeLayout { Shape = new long[] { FashionMnist.Pixels }, ShapeDescription = "pixels" },
            VectorEncoder = new VectorEncoder { Size = 64, Projection = new DenseHead { HiddenSizes = new() { 128 }, Dropout = 0 } },
            Decoder = new RecurrentDecoder { Cell = RecurrentCell.Gru, HiddenSize = 64, EmbeddingSize = 16, Attention = AttentionKind.Bahdanau, AttentionSize = 32 },
            TargetVocabularySize = Characters.Length,
            MaxOutputLength = 16,
        };
        TorchSharp.torch.random.manual_seed(3);
        var net = (Seq2SeqNetwork)arch.Build(Characters.Length, null);
        var train = TestData.TrainImages(3000).Select(i => new Seq2SeqExample(i.Features, Spell(i.Label))).ToList();
        Seq2SeqLoop.Train(net, train, new Seq2SeqLoopOptions { Epochs = 3, BatchSize = 64, LearningRate = 3e-3, Seed = 3 });

        var test = TestData.TestImages(500);
        var predicted = Seq2SeqLoop.Decode(net, test.Select(i => i.Features).ToList()).Select(p => Read(p.Tokens)).ToList();
        double exact = predicted.Zip(test).Count(p => p.First == p.Second.Label) / (double)test.Count;
        double valid = predicted.Count(p => FashionMnist.ClassNames.Contains(p)) / (double)test.Count;
        double majority = test.GroupBy(i => i.Label).Max(g => g.Count()) / (double)test.Count;
        _out.WriteLine($"exact {exact:F4}, outputs that are a class name {valid:F4}, majority-class baseline {majority:F4}; e.g. '{predicted[0]}' for '{test[0].Label}'");
        Assert.True(exact > 0.65 && exact > 4 * majority, $"exact-sequence accuracy {exact:F4} (majority baseline {majority:F4})");
        Assert.True(valid > 0.9, $"only {valid:F4} of the outputs spell a class name");
    }
}
