using MLNetDeep.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Models.Sequence;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Optimizers;
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

    /// <summary>The source of <see cref="ImageToClassName_ThroughTheEstimator_SpellsHeldOutImages"/>.</summary>
    public enum ImageSource { Vector, Rows, Cnn }

    /// <summary>
    /// The same task through the estimator in an ML.NET pipeline: the class name → TokenizeIntoCharactersAsKeys →
    /// MapKeyToValue → MapValueToKey is the target; the image is one 784-value vector through a dense projection or a
    /// CNN body (one-to-many), or 28 steps of 28 pixels (a numeric sequence source).
    /// </summary>
    [Theory]
    [InlineData(ImageSource.Vector, 3000, 3, 0.65)]
    [InlineData(ImageSource.Cnn, 2000, 2, 0.5)]
    [InlineData(ImageSource.Rows, 2000, 2, 0.4)]
    public void ImageToClassName_ThroughTheEstimator_SpellsHeldOutImages(ImageSource source, int trainImages, int epochs, double minExact)
    {
        var ml = new MLContext(seed: 3);
        var target = ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Name", "Label", useMarkerCharacters: false)
            .Append(ml.Transforms.Conversion.MapKeyToValue("Name"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Name"))
            .Fit(TestData.TrainView(ml, trainImages));
        var options = new Seq2SeqOptions
        {
            LabelColumnName = "Name",
            Input = source switch
            {
                ImageSource.Rows => new NumericSequenceLayout { FeaturesPerStep = 28 },
                ImageSource.Cnn => new FixedShapeLayout { Shape = new long[] { 1, 28, 28 }, ShapeDescription = "channels x height x width" },
                _ => new FixedShapeLayout { Shape = new long[] { FashionMnist.Pixels }, ShapeDescription = "pixels" },
            },
            Encoder = new RecurrentEncoder { Cell = RecurrentCell.Gru, HiddenSize = 64 },
            VectorEncoder = new VectorEncoder
            {
                Size = 64,
                Projection = new DenseHead { HiddenSizes = new() { 128 }, Dropout = 0 },
                Cnn = source != ImageSource.Cnn ? null : new Models.Cnn.CnnArchitecture
                {
                    ImageShape = new Models.Cnn.ImageShape(1, 28, 28),
                    Layers = new() { new Models.Cnn.ConvBlock(8, 3, Models.Cnn.PoolingKind.Max), new Models.Cnn.ConvBlock(16, 3, Models.Cnn.PoolingKind.Max) },
                    Head = new DenseHead { HiddenSizes = new(), Dropout = 0, InputDropout = 0 },
                },
            },
            Decoder = new RecurrentDecoder { Cell = RecurrentCell.Gru, HiddenSize = 64, EmbeddingSize = 16, Attention = AttentionKind.Bahdanau, AttentionSize = 32 },
            MaxOutputLength = 16,
            Epochs = epochs,
            BatchSize = 64,
            Optimizer = new Adam { LearningRate = 3e-3 },
        };
        var model = ml.MulticlassClassification.Trainers.Seq2Seq(options).Fit(target.Transform(TestData.TrainView(ml, trainImages)));

        var test = TestData.TestImages(500);
        var scored = model.Transform(target.Transform(ml.Data.LoadFromEnumerable(test)));
        double exact = ml.MulticlassClassification.EvaluateSeq2Seq(scored, "Name").ExactMatch;
        double majority = test.GroupBy(i => i.Label).Max(g => g.Count()) / (double)test.Count;
        var spelled = ml.Transforms.Conversion.MapKeyToValue("Spelled", "PredictedLabel").Fit(scored).Transform(scored)
            .GetColumn<string[]>("Spelled").Select(c => string.Concat(c).Replace("<␠>", " ")).ToList(); // the character tokenizer names the space "<␠>"
        double valid = spelled.Count(s => FashionMnist.ClassNames.Contains(s)) / (double)test.Count;
        double spelledRight = spelled.Zip(test).Count(p => p.First == p.Second.Label) / (double)test.Count;
        _out.WriteLine($"{source}: exact {exact:F4}, outputs that are a class name {valid:F4}, majority baseline {majority:F4}; e.g. '{spelled[0]}' for '{test[0].Label}'");
        Assert.True(exact > minExact && exact > 3 * majority, $"exact-sequence accuracy {exact:F4} (majority baseline {majority:F4})");
        Assert.Equal(exact, spelledRight, 12); // MapKeyToValue gives back exactly the text of the predicted keys
        Assert.True(valid > 0.8, $"only {valid:F4} of the outputs spell a class name");
    }
}
