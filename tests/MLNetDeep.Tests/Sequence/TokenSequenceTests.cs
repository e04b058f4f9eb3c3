using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Sequence;

/// <summary>Token sequences of varying length from text: padding invariance, bidirectional and stacked variants, tagging, truncation.</summary>
[Trait("Category", "Training")]
public class TokenSequenceTests
{
    private readonly ITestOutputHelper _out;
    public TokenSequenceTests(ITestOutputHelper output) => _out = output;

    private static SequenceOptions Tokens(int epochs = 1, int hidden = 16) => new()
    {
        Input = new TokenSequence(16),
        FeatureColumnName = "Tokens",
        HiddenSize = hidden,
        Epochs = epochs,
        BatchSize = 32,
        Optimizer = new Adam { LearningRate = 1e-2 },
    };

    [Theory]
    [InlineData(RecurrentCell.Lstm, 1, true, SequenceSummary.LastState)]
    [InlineData(RecurrentCell.Gru, 2, true, SequenceSummary.MeanOverTime)]
    [InlineData(RecurrentCell.Rnn, 1, false, SequenceSummary.MaxOverTime)]
    [InlineData(RecurrentCell.Lstm, 2, false, SequenceSummary.LastState)]
    public void Padding_never_changes_a_result_a_sentence_scores_the_same_alone_or_batched_with_longer_ones(
        RecurrentCell cell, int layers, bool bidirectional, SequenceSummary summary)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SequenceData.Sentences(300, seed: 3));
        var tokens = SequenceData.Tokenizer(ml, data).Transform(data);
        var options = Tokens();
        options.Cell = cell;
        options.Layers = layers;
        options.Bidirectional = bidirectional;
        options.Summary = summary;
        var model = ml.BinaryClassification.Trainers.Sequence(options).Fit(tokens);

        var lengths = tokens.GetColumn<uint[]>("Tokens").Select(t => t.Length).ToArray();
        Assert.True(lengths.Max() >= 2 * lengths.Min(), "the data should mix short and long sentences");
        model.ScoringBatchSize = 256;                       // one batch: short rows padded to the longest, packed
        var batched = model.Transform(tokens).GetColumn<float>("Score").ToArray();
        model.ScoringBatchSize = 1;                         // every row alone: no padding at all
        var alone = model.Transform(tokens).GetColumn<float>("Score").ToArray();
        double worst = batched.Zip(alone).Max(p => Math.Abs(p.First - p.Second));
        _out.WriteLine($"{cell} x{layers} bidirectional={bidirectional} {summary}: max |batched - alone| = {worst:G3} over {alone.Length} rows");
        Assert.True(worst < 1e-5, $"padding changed a score by {worst}");
        Assert.True(alone.Distinct().Count() > 10, "scores should differ between sentences");
    }

    [Fact]
    public void Padding_never_changes_a_numeric_series_result_in_regression()
    {
        var ml = new MLContext(seed: 1);
        var rng = new Random(5);
        var rows = Enumerable.Range(0, 200).Select(_ =>
        {
            int steps = 3 + rng.Next(30);
            var x = Enumerable.Range(0, steps * 2).Select(_ => (float)rng.NextDouble()).ToArray();
            return new SeriesRow { Features = x, Label = x.Where((_, i) => i % 2 == 0).Sum() };
        }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Regression.Trainers.Gru(new NumericSequence(2), hiddenSize: 16, bidirectional: true, epochs: 2, learningRate: 1e-2).Fit(data);
        model.ScoringBatchSize = 64;
        var batched = model.Transform(data).GetColumn<float>("Score").ToArray();
        model.ScoringBatchSize = 1;
        var alone = model.Transform(data).GetColumn<float>("Score").ToArray();
        double worst = batched.Zip(alone).Max(p => Math.Abs(p.First - p.Second));
        _out.WriteLine($"max |batched - alone| = {worst:G3}");
        Assert.True(worst < 1e-4, $"padding changed a prediction by {worst}");
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm, 2, true)]
    [InlineData(RecurrentCell.Gru, 2, false)]
    public void Bidirectional_and_stacked_networks_learn_order_dependent_sentiment(RecurrentCell cell, int layers, bool bidirectional)
    {
        // The label is the sentiment of the clause after "but", flipped by "not": a bag of words can't get it.
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SequenceData.Sentences(600, seed: 1));
        var test = ml.Data.LoadFromEnumerable(SequenceData.Sentences(300, seed: 2));
        var tokenizer = SequenceData.Tokenizer(ml, train);
        var options = Tokens(epochs: 4, hidden: 16);
        options.Cell = cell;
        options.Layers = layers;
        options.Bidirectional = bidirectional;
        options.LayerDropout = 0.1;
        var model = ml.BinaryClassification.Trainers.Sequence(options).Fit(tokenizer.Transform(train));
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(tokenizer.Transform(test)));
        _out.WriteLine($"{cell} x{layers} bidirectional={bidirectional}: test accuracy {metrics.Accuracy:F4}, AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.True(metrics.Accuracy > 0.9, $"accuracy {metrics.Accuracy:F4}");
    }

    [Fact]
    public void Tagging_learns_one_tag_per_word_and_outputs_aligned_vectors()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SequenceData.Sentences(800, seed: 1));
        var test = ml.Data.LoadFromEnumerable(SequenceData.Sentences(300, seed: 2));
        var featurizer = SequenceData.TaggingFeaturizer(ml, train);
        var tagger = ml.MulticlassClassification.Trainers.SequenceTagging(new TokenSequence(16), hiddenSize: 16,
            labelColumnName: "TagKeys", featureColumnName: "Tokens", epochs: 6, learningRate: 1e-2).Fit(featurizer.Transform(train));
        var scored = tagger.Transform(featurizer.Transform(test));

        var metrics = ml.MulticlassClassification.EvaluateSequenceTagging(scored, "TagKeys");
        _out.WriteLine(metrics.ToString());
        foreach (var (tag, acc) in metrics.PerTagAccuracy) _out.WriteLine($"  {tag}: {acc:F4}");
        Assert.True(metrics.StepAccuracy > 0.97, metrics.ToString());
        Assert.True(metrics.PerTagAccuracy["POS"] > 0.9 && metrics.PerTagAccuracy["NEG"] > 0.9, "the adjectives' context-dependent tags are learned");

        // One predicted tag and K scores per word; MapKeyToValue turns the key vector into tag names.
        var words = scored.GetColumn<uint[]>("Tokens").ToArray();
        var predicted = scored.GetColumn<uint[]>("PredictedLabel").ToArray();
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        int k = tagger.ClassNames.Count;
        for (int i = 0; i < words.Length; i++)
        {
            Assert.Equal(words[i].Length, predicted[i].Length);
            Assert.Equal(words[i].Length * k, scores[i].Length);
        }
        var named = ml.Transforms.Conversion.MapKeyToValue("PredictedTags", "PredictedLabel").Fit(scored).Transform(scored)
            .GetColumn<string[]>("PredictedTags").First();
        Assert.All(named, t => Assert.Contains(t, new[] { "O", "POS", "NEG", "NOT" }));
        Assert.Equal(1.0, scores[0].Take(k).Sum(), 4);
    }

    [Fact]
    public void Rows_longer_than_MaxLength_keep_the_end_or_the_start_as_documented()
    {
        var layoutEnd = new NumericSequenceLayout { FeaturesPerStep = 2, MaxLength = 2, Truncation = SequenceTruncation.KeepEnd };
        var layoutStart = new NumericSequenceLayout { FeaturesPerStep = 2, MaxLength = 2, Truncation = SequenceTruncation.KeepStart };
        float[] values = { 1, 2, 3, 4, 5, 6, /* row 2: */ 7, 8 };
        int[] rows = { 6, 2 };
        var (end, endLengths) = layoutEnd.Collate(values, rows);
        var (start, _) = layoutStart.Collate(values, rows);
        Assert.Equal(new float[] { 3, 4, 5, 6, 7, 8, 0, 0 }, end.data<float>().ToArray());
        Assert.Equal(new float[] { 1, 2, 3, 4, 7, 8, 0, 0 }, start.data<float>().ToArray());
        Assert.Equal(new long[] { 2, 1 }, endLengths!.data<long>().ToArray());

        // End to end: with KeepEnd a long sentence scores like its last MaxLength words.
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SequenceData.Sentences(200, seed: 4));
        var tokenizer = SequenceData.Tokenizer(ml, data);
        var options = Tokens();
        options.MaxLength = 4;
        var model = ml.BinaryClassification.Trainers.Sequence(options).Fit(tokenizer.Transform(data));
        var sentences = new[] { new SentenceRow { Text = "honestly the battery was not really good" }, new SentenceRow { Text = "was not really good" } };
        var scores = model.Transform(tokenizer.Transform(ml.Data.LoadFromEnumerable(sentences))).GetColumn<float>("Score").ToArray();
        Assert.Equal(scores[1], scores[0], 5);
    }

    [Fact]
    public void Characters_from_TokenizeIntoCharactersAsKeys_feed_the_embedding()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SequenceData.Sentences(200, seed: 6));
        var chars = ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Chars", "Text", useMarkerCharacters: false).Fit(data).Transform(data);
        var options = Tokens();
        options.Input = new TokenSequence(4);
        options.FeatureColumnName = "Chars";
        options.HiddenSize = 8;
        var model = ml.BinaryClassification.Trainers.Sequence(options).Fit(chars);
        var layout = Assert.IsType<TokenSequenceLayout>(((SequenceArchitecture)model.Description.Architecture).Input);
        _out.WriteLine($"character vocabulary: {layout.VocabularySize}");
        Assert.True(layout.VocabularySize >= char.MaxValue);
        Assert.All(model.Transform(chars).GetColumn<float>("Score"), s => Assert.True(float.IsFinite(s)));
    }
}
