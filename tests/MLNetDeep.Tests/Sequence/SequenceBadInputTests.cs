using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Data;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using Xunit;

namespace MLNetDeep.Tests.Sequence;

/// <summary>Bad input gives errors that name the column or option, the value received and the fix (or the documented handling).</summary>
[Trait("Category", "Unit")]
public class SequenceBadInputTests
{
    private sealed class FixedRow
    {
        [VectorType(10)] public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    private sealed class IdRow
    {
        [VectorType] public uint[] Features { get; set; } = Array.Empty<uint>();
        public bool Label { get; set; }
    }

    private static SequenceOptions Numeric(int featuresPerStep) => new()
    {
        Input = new NumericSequence(featuresPerStep), HiddenSize = 4, Epochs = 1, Optimizer = new Adam { LearningRate = 1e-2 },
    };

    private static SequenceOptions Tokens() => new()
    {
        Input = new TokenSequence(4), FeatureColumnName = "Tokens", HiddenSize = 4, Epochs = 1,
    };

    private static (MLContext Ml, IDataView Data, ITransformer Tokenizer) Sentences(int rows = 60)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SequenceData.Sentences(rows, seed: 1));
        return (ml, data, SequenceData.Tokenizer(ml, data));
    }

    [Fact]
    public void A_fixed_size_column_that_is_not_a_multiple_of_FeaturesPerStep_is_refused_naming_both_numbers()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 8).Select(i => new FixedRow { Features = new float[10], Label = i }));
        var e = Assert.Throws<ArgumentException>(() => ml.Regression.Trainers.Sequence(Numeric(3)).Fit(data));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("10 values", e.Message);
        Assert.Contains("FeaturesPerStep=3", e.Message);
    }

    [Fact]
    public void A_variable_size_row_that_is_not_a_multiple_of_FeaturesPerStep_is_refused_naming_the_row()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 8).Select(i => new SeriesRow { Features = new float[i == 5 ? 7 : 6], Label = i }).ToList();
        var e = Assert.Throws<InvalidDataException>(() => ml.Regression.Trainers.Sequence(Numeric(2)).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("row 5", e.Message);
        Assert.Contains("7 values", e.Message);
        Assert.Contains("FeaturesPerStep=2", e.Message);
    }

    [Fact]
    public void Empty_sequences_are_refused_with_the_row_and_how_to_filter_them()
    {
        var (ml, _, _) = Sentences();
        var rows = SequenceData.Sentences(20, seed: 1);
        rows[7].Text = "";
        var data = ml.Data.LoadFromEnumerable(rows);
        var tokens = SequenceData.Tokenizer(ml, data).Transform(data);
        var e = Assert.Throws<InvalidDataException>(() => ml.BinaryClassification.Trainers.Sequence(Tokens()).Fit(tokens));
        Assert.Contains("'Tokens', row 7", e.Message);
        Assert.Contains("empty", e.Message);
        Assert.Contains("Filter", e.Message);
    }

    [Fact]
    public void Unknown_words_embed_as_zeros_by_default_or_are_refused_when_asked()
    {
        var (ml, data, tokenizer) = Sentences();
        var model = ml.BinaryClassification.Trainers.Sequence(Tokens()).Fit(tokenizer.Transform(data));
        var unseen = ml.Data.LoadFromEnumerable(new[] { new SentenceRow { Text = "the zeppelin is not good" }, new SentenceRow { Text = "the is not good" } });
        var keyed = tokenizer.Transform(unseen);
        Assert.Equal(0u, keyed.GetColumn<uint[]>("Tokens").First()[1]); // MapValueToKey maps an unseen word to key 0
        var scores = model.Transform(keyed).GetColumn<float>("Score").ToArray();
        Assert.True(float.IsFinite(scores[0]));
        Assert.NotEqual(scores[1], scores[0]); // the unknown word is a (zero) step, not dropped

        var strict = Tokens();
        strict.Input = new TokenSequence(4) { UnknownTokens = UnknownTokenHandling.Error };
        var strictModel = ml.BinaryClassification.Trainers.Sequence(strict).Fit(tokenizer.Transform(data));
        var e = Assert.Throws<InvalidDataException>(() => strictModel.Transform(keyed).GetColumn<float>("Score").ToArray());
        Assert.Contains("row 0, step 1", e.Message);
        Assert.Contains("UnknownTokens", e.Message);
    }

    [Fact]
    public void Token_ids_beyond_the_vocabulary_or_a_refitted_key_mapping_are_refused()
    {
        var ml = new MLContext(seed: 1);
        var rng = new Random(1);
        var ids = Enumerable.Range(0, 40).Select(i => new IdRow { Features = Enumerable.Range(0, 3 + i % 5).Select(_ => (uint)rng.Next(1, 11)).ToArray(), Label = i % 2 == 0 }).ToList();
        var options = new SequenceOptions { Input = new TokenSequence(4) { VocabularySize = 10 }, HiddenSize = 4, Epochs = 1 };
        var model = ml.BinaryClassification.Trainers.Sequence(options).Fit(ml.Data.LoadFromEnumerable(ids));
        var bad = ml.Data.LoadFromEnumerable(new[] { new IdRow { Features = new uint[] { 3, 12, 4 } } });
        var e = Assert.Throws<InvalidDataException>(() => model.Transform(bad).GetColumn<float>("Score").ToArray());
        Assert.Contains("row 0, step 1: token id 12", e.Message);
        Assert.Contains("1..10", e.Message);

        // Plain UInt32 ids need a vocabulary size.
        var noVocab = new SequenceOptions { Input = new TokenSequence(4), HiddenSize = 4, Epochs = 1 };
        var e2 = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.Sequence(noVocab).Fit(ml.Data.LoadFromEnumerable(ids)));
        Assert.Contains("VocabularySize", e2.Message);

        // A key mapping fitted again on other data gives ids that mean other words.
        var (ml2, data, tokenizer) = Sentences();
        var keyModel = ml2.BinaryClassification.Trainers.Sequence(Tokens()).Fit(tokenizer.Transform(data));
        var other = ml2.Data.LoadFromEnumerable(new[] { new SentenceRow { Text = "completely different words here" } });
        var refitted = SequenceData.Tokenizer(ml2, other).Transform(other);
        var e3 = Assert.Throws<ArgumentException>(() => keyModel.Transform(refitted));
        Assert.Contains("same fitted MapValueToKey", e3.Message);
    }

    [Fact]
    public void Sequences_longer_than_MaxLength_are_refused_when_Truncation_is_Error()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 10).Select(i => new SeriesRow { Features = new float[2 * (3 + i)], Label = i }).ToList();
        var options = Numeric(2);
        options.MaxLength = 8;
        options.Truncation = SequenceTruncation.Error;
        var e = Assert.Throws<InvalidDataException>(() => ml.Regression.Trainers.Sequence(options).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("row 6", e.Message);
        Assert.Contains("9 steps", e.Message);
        Assert.Contains("MaxLength=8", e.Message);
        Assert.Contains("KeepEnd", e.Message);
    }

    [Fact]
    public void Mismatched_input_kinds_and_missing_options_name_the_option_and_the_fix()
    {
        var (ml, data, tokenizer) = Sentences();
        var tokens = tokenizer.Transform(data);

        var numericOnKeys = Numeric(1);
        numericOnKeys.FeatureColumnName = "Tokens";
        var e1 = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.Sequence(numericOnKeys).Fit(tokens));
        Assert.Contains("TokenSequence", e1.Message);

        var series = ml.Data.LoadFromEnumerable(SequenceData.Adding(10, 5, seed: 1));
        var tokensOnFloats = new SequenceOptions { Input = new TokenSequence(4), HiddenSize = 4, Epochs = 1 };
        var e2 = Assert.Throws<ArgumentException>(() => ml.Regression.Trainers.Sequence(tokensOnFloats).Fit(series));
        Assert.Contains("NumericSequence", e2.Message);

        var e3 = Assert.Throws<ArgumentNullException>(() => ml.Regression.Trainers.Sequence(new SequenceOptions()).Fit(series));
        Assert.Equal("Input", e3.ParamName);
        Assert.Contains("new NumericSequence(featuresPerStep)", e3.Message);

        var zeroHidden = Numeric(2);
        zeroHidden.HiddenSize = 0;
        var e4 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Sequence(zeroHidden).Fit(series));
        Assert.Contains("HiddenSize=0", e4.Message);

        var badClip = Numeric(2);
        badClip.Regularization = new() { GradientClipNorm = -1 };
        var e5 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Sequence(badClip).Fit(series));
        Assert.Contains("GradientClipNorm=-1", e5.Message);

        var badF = Numeric(0);
        var e6 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Sequence(badF).Fit(series));
        Assert.Contains("FeaturesPerStep=0", e6.Message);
    }

    [Fact]
    public void Tagging_labels_must_have_one_tag_per_step_and_tagging_cannot_truncate()
    {
        var ml = new MLContext(seed: 1);
        var rows = SequenceData.Sentences(30, seed: 1);
        rows[4].Tags += " O";
        var data = ml.Data.LoadFromEnumerable(rows);
        var x = SequenceData.TaggingFeaturizer(ml, data).Transform(data);
        var options = Tokens();
        options.LabelColumnName = "TagKeys";
        var e = Assert.Throws<InvalidDataException>(() => ml.MulticlassClassification.Trainers.SequenceTagging(options).Fit(x));
        Assert.Contains("'TagKeys', row 4", e.Message);
        Assert.Contains("one label per step", e.Message);

        options.MaxLength = 5;
        var e2 = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.SequenceTagging(options).Fit(x));
        Assert.Contains("Truncation", e2.Message);

        var notKeys = Tokens();
        notKeys.LabelColumnName = "Tags";
        var e3 = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.SequenceTagging(notKeys).Fit(x));
        Assert.Contains("MapValueToKey", e3.Message);
    }
}
