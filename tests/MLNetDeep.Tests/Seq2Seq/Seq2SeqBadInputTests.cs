using MLNetDeep.Data;
using MLNetDeep.Models.Seq2Seq;
using Xunit;

namespace MLNetDeep.Tests.Seq2Seq;

/// <summary>Bad targets, sources and options are refused with messages that name the column / option, the value and the fix.</summary>
[Trait("Category", "Unit")]
public sealed class Seq2SeqBadInputTests
{
    private static readonly Seq2SeqArchitecture Arch = G2PData.Architecture(hidden: 8, maxOutput: 5);
    private static readonly float[] Word = { 3, 1, 20 };

    private static InvalidDataException Refused(int[] target) =>
        Assert.Throws<InvalidDataException>(() => Seq2SeqBatch.Create(Arch, new[] { Word, Word }, new[] { new[] { 1, 2 }, target }, sourceColumn: "Word", targetColumn: "Phonemes"));

    [Fact]
    public void EmptyTarget_IsRefused()
    {
        var e = Refused(Array.Empty<int>());
        Assert.Contains("'Phonemes', row 1", e.Message);
        Assert.Contains("empty", e.Message);
    }

    [Theory]
    [InlineData(0, "missing key")]
    [InlineData(40, "1..39")]
    [InlineData(-2, "1..39")]
    public void TargetIdOutOfRange_IsRefused(int id, string expected)
    {
        var e = Refused(new[] { 1, id });
        Assert.Contains("row 1, step 1", e.Message);
        Assert.Contains($"target id {id}", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void TargetWithNoRoomForTheEndToken_IsRefused()
    {
        var e = Refused(new[] { 1, 2, 3, 4, 5, 6 });
        Assert.Contains("6 tokens, more than MaxOutputLength=5", e.Message);
        Assert.Contains("Raise MaxOutputLength to at least 6", e.Message);
    }

    [Fact]
    public void SourceTokenOutOfVocabulary_IsRefused()
    {
        var e = Assert.Throws<InvalidDataException>(() => Seq2SeqBatch.Create(Arch, new[] { new float[] { 1, 99 } }, new[] { new[] { 1 } }, sourceColumn: "Word"));
        Assert.Contains("'Word', row 0, step 1", e.Message);
        var empty = Assert.Throws<InvalidDataException>(() => Seq2SeqBatch.Create(Arch, new[] { Array.Empty<float>() }, new[] { new[] { 1 } }, sourceColumn: "Word"));
        Assert.Contains("empty", empty.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void MaxOutputLength_NotPositive_IsRefused(int max)
    {
        var arch = new Seq2SeqArchitecture { Input = new TokenSequenceLayout { VocabularySize = 5 }, TargetVocabularySize = 4, MaxOutputLength = max };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => arch.Validate());
        Assert.Contains($"Received: MaxOutputLength={max}", e.Message);
        var decode = Assert.Throws<ArgumentOutOfRangeException>(() => Seq2SeqLoop.Decode(G2PData.Build(Arch), new[] { Word }, new Seq2SeqDecodeOptions { MaxOutputLength = max }));
        Assert.Contains($"MaxOutputLength={max}", decode.Message);
    }

    [Fact]
    public void LuongDot_WithMismatchedWidths_NamesBothFixes()
    {
        var arch = new Seq2SeqArchitecture
        {
            Input = new TokenSequenceLayout { VocabularySize = 5 }, TargetVocabularySize = 4,
            Encoder = new RecurrentEncoder { HiddenSize = 16, Bidirectional = true },
            Decoder = new RecurrentDecoder { HiddenSize = 16, Attention = AttentionKind.LuongDot },
        };
        var e = Assert.Throws<ArgumentException>(() => arch.Validate());
        Assert.Contains("Decoder.HiddenSize = 32", e.Message);
        Assert.Contains("LuongGeneral", e.Message);
    }

    [Fact]
    public void DecodeAndTeacherForcingOptions_AreChecked()
    {
        var net = G2PData.Build(Arch);
        Assert.Contains("BeamWidth=0", Assert.Throws<ArgumentOutOfRangeException>(() => Seq2SeqLoop.Decode(net, new[] { Word }, new Seq2SeqDecodeOptions { BeamWidth = 0 })).Message);
        Assert.Contains("Ratio=1.5", Assert.Throws<ArgumentOutOfRangeException>(() => new TeacherForcing { Ratio = 1.5 }.Validate()).Message);
        Assert.Contains("FinalRatio=0", Assert.Throws<ArgumentOutOfRangeException>(() => new TeacherForcing { Decay = TeacherForcingDecay.Exponential, FinalRatio = 0 }.Validate()).Message);
    }

    [Fact]
    public void TeacherForcingDecay_FollowsItsSchedule()
    {
        var linear = new TeacherForcing { Ratio = 1, FinalRatio = 0.5, Decay = TeacherForcingDecay.Linear, DecayEpochs = 4 };
        Assert.Equal(new[] { 1.0, 0.875, 0.75, 0.625, 0.5, 0.5 }, Enumerable.Range(0, 6).Select(linear.RatioAt).ToArray());
        var exp = new TeacherForcing { Ratio = 1, FinalRatio = 0.25, Decay = TeacherForcingDecay.Exponential, DecayEpochs = 2 };
        Assert.Equal(0.5, exp.RatioAt(1), 12);
        var sigmoid = new TeacherForcing { Ratio = 1, FinalRatio = 0.2, Decay = TeacherForcingDecay.InverseSigmoid, DecayEpochs = 8 };
        var s = Enumerable.Range(0, 10).Select(sigmoid.RatioAt).ToArray();
        Assert.Equal(1.0, s[0], 12);
        Assert.Equal(0.2, s[8], 12);
        Assert.True(s.Zip(s.Skip(1)).All(p => p.First >= p.Second));
    }
}
