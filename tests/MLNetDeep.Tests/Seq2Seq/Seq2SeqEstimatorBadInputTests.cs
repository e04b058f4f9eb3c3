using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Pretraining;
using Xunit;

namespace MLNetDeep.Tests.Seq2Seq;

/// <summary>Bad columns, targets and options are refused by the estimator with messages naming the column or option, the value and the fix.</summary>
public sealed class Seq2SeqEstimatorBadInputTests
{
    private static MLContext Ml => G2PEstimator.Ml;

    private static Seq2SeqOptions Small(int maxOutput = 30)
    {
        var o = G2PEstimator.Options(hidden: 8, epochs: 1);
        o.MaxOutputLength = maxOutput;
        return o;
    }

    private static Exception FitFails(Seq2SeqOptions options, IDataView data) =>
        Assert.ThrowsAny<Exception>(() => Ml.MulticlassClassification.Trainers.Seq2Seq(options).Fit(data));

    private static IDataView Words(params (string Word, string Phonemes)[] rows) =>
        G2PEstimator.Rows(rows.Select(r => new G2PEntry { Word = r.Word, Phonemes = r.Phonemes }));

    [Fact]
    public void EmptyTarget_IsRefused_NamingTheRow()
    {
        var e = FitFails(Small(), Words(("cat", "K AE T"), ("dog", "")));
        Assert.IsType<InvalidDataException>(e);
        Assert.Contains("Target column 'Label', row 1: the target sequence is empty", e.Message);
    }

    private sealed class KeyedRow
    {
        [KeyType(27), VectorType] public uint[] Letters { get; set; } = Array.Empty<uint>();
        [KeyType(5), VectorType] public uint[] Label { get; set; } = Array.Empty<uint>();
    }

    [Theory]
    [InlineData(7u, "target id 7 is outside the target keys 1..5")]
    [InlineData(0u, "0 is a missing key")]
    public void TargetIdOutOfRange_IsRefused(uint bad, string expected)
    {
        var data = Ml.Data.LoadFromEnumerable(new[]
        {
            new KeyedRow { Letters = new uint[] { 3, 1 }, Label = new uint[] { 1, 2 } },
            new KeyedRow { Letters = new uint[] { 4, 2, 9 }, Label = new uint[] { 3, bad } },
        });
        var e = FitFails(Small(), data);
        Assert.Contains("Target column 'Label', row 1, step 1", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void TargetWithNoRoomForTheEndToken_IsRefused()
    {
        var e = FitFails(Small(maxOutput: 3), Words(("cat", "K AE T"), ("knight", "N AY T S")));
        Assert.Contains("row 1: the target has 4 tokens, more than MaxOutputLength=3", e.Message);
        Assert.Contains("Raise MaxOutputLength to at least 4", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void MaxOutputLength_NotPositive_IsRefused(int max)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ml.MulticlassClassification.Trainers.Seq2Seq(Small(max)).Fit(Words(("cat", "K AE T"))));
        Assert.Contains($"Received: MaxOutputLength={max}", e.Message);
    }

    [Fact]
    public void LabelThatIsNotAKeyVector_IsRefused_NamingTheFix()
    {
        var data = Ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Letters", "Word").Fit(Ml.Data.LoadFromEnumerable(new[] { new G2PEntry { Word = "cat", Phonemes = "K AE T" } }))
            .Transform(Ml.Data.LoadFromEnumerable(new[] { new G2PEntry { Word = "cat", Phonemes = "K AE T" } }));
        var o = Small();
        o.LabelColumnName = "Phonemes";
        var e = FitFails(o, data);
        Assert.Contains("Label column 'Phonemes' has type String", e.Message);
        Assert.Contains("TokenizeIntoWords(\"Phonemes\")", e.Message);
        Assert.Contains("MapValueToKey(\"Phonemes\")", e.Message);
    }

    [Fact]
    public void ValidationTargetsKeyedDifferently_AreRefused()
    {
        var train = Words(("cat", "K AE T"), ("dog", "D AO G"));
        var otherKeys = Ml.Transforms.Conversion.MapValueToKey("Label").Fit(
            Ml.Transforms.Text.TokenizeIntoWords("Label", "Phonemes").Fit(CmuDict.Load(Ml, CmuDictSplit.Validation, 50)).Transform(CmuDict.Load(Ml, CmuDictSplit.Validation, 50)));
        var validation = otherKeys.Transform(Ml.Transforms.Text.TokenizeIntoWords("Label", "Phonemes")
            .Append(Ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Chars", "Word", useMarkerCharacters: false))
            .Append(Ml.Transforms.Conversion.MapKeyToValue("Chars"))
            .Append(Ml.Transforms.Conversion.MapValueToKey("Letters", "Chars", keyData: CmuDict.LetterKeys(Ml)))
            .Fit(CmuDict.Load(Ml, CmuDictSplit.Validation, 50)).Transform(CmuDict.Load(Ml, CmuDictSplit.Validation, 50)));
        var o = Small();
        o.ValidationData = validation;
        var e = FitFails(o, train);
        Assert.Contains("validation label column 'Label' is keyed differently", e.Message);
    }

    [Fact]
    public void BadDecodingTeacherForcingAndPretrainingOptions_AreRefusedAtFit()
    {
        var data = Words(("cat", "K AE T"));
        var beam = Small();
        beam.Decoding = new Seq2SeqDecodeOptions { BeamWidth = 0 };
        Assert.Contains("BeamWidth=0", FitFails(beam, data).Message);
        var tf = Small();
        tf.TeacherForcing = new TeacherForcing { Ratio = 1.5 };
        Assert.Contains("Ratio=1.5", FitFails(tf, data).Message);
        var pre = Small();
        pre.Pretraining = new PretrainingOptions();
        Assert.Contains("Pretraining", FitFails(pre, data).Message);
    }

    [Fact]
    public void NumericFeaturesForATokenSource_AreRefused()
    {
        var data = Ml.Data.LoadFromEnumerable(new[] { new KeyedRow { Letters = new uint[] { 3, 1 }, Label = new uint[] { 1, 2 } } });
        var o = Small();
        o.Input = new Data.NumericSequenceLayout { FeaturesPerStep = 1 };
        var e = FitFails(o, data);
        Assert.Contains("Feature column 'Letters' holds keys", e.Message);
    }
}
