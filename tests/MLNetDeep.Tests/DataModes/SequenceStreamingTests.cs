using Microsoft.ML;
using MLNetDeep.Data;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Sequence;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.DataModes;

/// <summary>Variable-length rows stream too: token sequences (one label per row), tagging (one label per step) and seq2seq (targets of their own length).</summary>
[Trait("Category", "Training")]
public sealed class SequenceStreamingTests
{
    private readonly ITestOutputHelper _out;
    public SequenceStreamingTests(ITestOutputHelper output) => _out = output;

    private static SequenceOptions Options(DataOptions data, bool shuffle, string label = "Label", int epochs = 2) => new()
    {
        Input = new TokenSequence(16),
        FeatureColumnName = "Tokens",
        LabelColumnName = label,
        HiddenSize = 16,
        Epochs = epochs,
        BatchSize = 32,
        Seed = 2,
        Shuffle = shuffle,
        ValidationFraction = 0.2,
        Optimizer = new Adam { LearningRate = 1e-2 },
        Data = data,
    };

    [Fact]
    public void Token_sequences_stream_with_the_in_memory_weights_without_shuffling_and_learn_with_a_shuffle_buffer()
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.LoadFromEnumerable(SequenceData.Sentences(500, seed: 1));
        var data = SequenceData.Tokenizer(ml, raw).Transform(raw);
        // ValidationFraction: in memory the held-out rows keep the permutation's order, streaming reads them in source order;
        // the training rows too. So this compares with Shuffle = false over a validation set given explicitly.
        var train = ml.Data.TakeRows(data, 400);
        var validation = ml.Data.SkipRows(data, 400);
        DeepTransformer Fit(DataOptions d, bool shuffle, int epochs = 2)
        {
            var o = Options(d, shuffle, epochs: epochs);
            o.ValidationFraction = 0;
            return ml.BinaryClassification.Trainers.Sequence(o).Fit(train, validation);
        }
        using var inMemory = Fit(new DataOptions { Mode = DataMode.InMemory }, shuffle: false);
        using var streamed = Fit(new DataOptions { Mode = DataMode.Streaming }, shuffle: false);
        Assert.Empty(DataKit.Differences(inMemory, streamed));
        Assert.Equal(inMemory.History.Epochs.Select(e => e.ValidationLoss), streamed.History.Epochs.Select(e => e.ValidationLoss));
        Assert.Equal(inMemory.Description.LongestRowValues, streamed.Description.LongestRowValues);

        // Shuffled: a 64-row buffer (streaming) against a full permutation (in memory).
        using var buffered = Fit(new DataOptions { Mode = DataMode.Streaming, ShuffleBufferRows = 64 }, shuffle: true, epochs: 4);
        using var permuted = Fit(new DataOptions { Mode = DataMode.InMemory }, shuffle: true, epochs: 4);
        double b = buffered.History.Epochs[^1].ValidationMetrics["accuracy"], p = permuted.History.Epochs[^1].ValidationMetrics["accuracy"];
        _out.WriteLine($"validation accuracy after 4 epochs: streamed with a 64-row shuffle buffer {b:F4}, in memory (full permutation) {p:F4}");
        Assert.True(b > 0.75 && b > p - 0.05, $"streaming {b:F4}, in memory {p:F4}");
    }

    [Fact]
    public void Tagging_streams_its_per_step_labels_with_the_in_memory_results_and_a_validation_fraction()
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.LoadFromEnumerable(SequenceData.Sentences(400, seed: 3));
        var data = SequenceData.TaggingFeaturizer(ml, raw).Transform(raw);
        using var inMemory = ml.MulticlassClassification.Trainers.SequenceTagging(Options(new DataOptions { Mode = DataMode.InMemory }, false, "TagKeys", epochs: 4)).Fit(data);
        using var streamed = ml.MulticlassClassification.Trainers.SequenceTagging(Options(new DataOptions { Mode = DataMode.Streaming }, false, "TagKeys", epochs: 4)).Fit(data);
        // The same held-out rows (one permutation of the row numbers in both modes), so the same validation row count;
        // the training rows come in another order (permutation vs source order), so the weights differ.
        Assert.Equal(inMemory.History.ValidationRows, streamed.History.ValidationRows);
        Assert.Equal(inMemory.History.TrainingRows, streamed.History.TrainingRows);
        double a = inMemory.History.Epochs[^1].ValidationMetrics["accuracy"], b = streamed.History.Epochs[^1].ValidationMetrics["accuracy"];
        _out.WriteLine($"tagging step accuracy on the held-out rows: in memory {a:F4}, streaming {b:F4}");
        Assert.True(b > 0.85 && Math.Abs(a - b) < 0.05, $"in memory {a:F4}, streaming {b:F4}");
    }

    [Fact]
    public void Seq2seq_streams_letters_and_phonemes_with_the_in_memory_weights_without_shuffling()
    {
        var train = Seq2Seq.G2PEstimator.Rows(Datasets.CmuDictSplit.Train, 300);
        var validation = Seq2Seq.G2PEstimator.Rows(Datasets.CmuDictSplit.Validation, 60, Datasets.CmuDictVariants.First);
        DeepTransformer Fit(DataMode mode)
        {
            var o = Seq2Seq.G2PEstimator.Options(hidden: 16, epochs: 1);
            o.Shuffle = false;
            o.Data = new DataOptions { Mode = mode };
            return Seq2Seq.G2PEstimator.Ml.MulticlassClassification.Trainers.Seq2Seq(o).Fit(train, validation);
        }
        using var inMemory = Fit(DataMode.InMemory);
        using var streamed = Fit(DataMode.Streaming);
        Assert.Empty(DataKit.Differences(inMemory, streamed));
        Assert.Equal(inMemory.History.Epochs.Select(e => e.ValidationLoss), streamed.History.Epochs.Select(e => e.ValidationLoss));
        Assert.Equal(inMemory.History.Epochs[^1].ValidationMetrics, streamed.History.Epochs[^1].ValidationMetrics);
    }
}
