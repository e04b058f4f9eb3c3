using Microsoft.ML;
using MLNetDeep.Augmentation;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Control;
using MLNetDeep.Tests.Sequence;
using Xunit;

namespace MLNetDeep.Tests.Engine;

/// <summary>
/// One estimator fitted from several threads at once gives every fit the weights a sequential fit with the same seed
/// gives: per-run state lives in per-Fit objects, and each run draws from its own torch random stream (dropout,
/// augmentation, initialisation).
/// </summary>
[Trait("Category", "Unit")]
public class ConcurrencyTests
{
    private static float[] AllWeights(DeepTransformer model) =>
        model.Network.parameters().SelectMany(p => ControlKit.Flat(p)).ToArray();

    private static void AssertSame(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxDiff = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff == 0, $"{what}: max |Δw| = {maxDiff:G3}");
    }

    [Fact]
    public void Concurrent_lstm_fits_of_one_estimator_equal_the_sequential_fit()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SequenceData.Adding(240, 16, seed: 4));
        // Two stacked layers with dropout between them: the forward pass draws from the random stream every batch.
        var trainer = ml.Regression.Trainers.Sequence(new SequenceOptions
        {
            Input = new NumericSequence(2), HiddenSize = 16, Layers = 2, LayerDropout = 0.3, Epochs = 3, BatchSize = 32, Seed = 5,
        });
        using var alone = trainer.Fit(data);
        var expected = AllWeights(alone);

        var fits = Enumerable.Range(0, 3).Select(_ => Task.Run(() => trainer.Fit(data))).ToArray();
        Task.WaitAll(fits);
        foreach (var (fit, i) in fits.Select((f, i) => (f.Result, i)))
            using (fit) AssertSame(expected, AllWeights(fit), $"concurrent fit {i}");
    }

    [Fact]
    public void Concurrent_cnn_fits_with_dropout_and_augmentation_equal_sequential_ones_per_seed()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = ControlKit.Data(ml, 400, 100);
        CnnOptions Options(int seed)
        {
            var o = ControlKit.Mlp(new[] { 32 }, epochs: 2, dropout: 0.4);
            o.Augmentation = new ImageAugmentation { HorizontalFlipProbability = 0.5, NoiseStd = 0.05 };
            o.Seed = seed;
            o.ValidationData = test;
            return o;
        }
        var sequential = new[] { 11, 12 }.Select(s =>
        {
            using var m = new CnnTrainer(Options(s), PredictionKind.MulticlassClassification).Fit(train, test);
            return AllWeights(m);
        }).ToArray();
        Assert.NotEqual(sequential[0], sequential[1]); // the seeds matter, so equality below means something

        var fits = new[] { 11, 12, 11, 12 }.Select(s => Task.Run(() => new CnnTrainer(Options(s), PredictionKind.MulticlassClassification).Fit(train, test))).ToArray();
        Task.WaitAll(fits);
        for (int i = 0; i < fits.Length; i++)
            using (var m = fits[i].Result) AssertSame(sequential[i % 2], AllWeights(m), $"concurrent fit {i} (seed {11 + i % 2})");
    }
}
