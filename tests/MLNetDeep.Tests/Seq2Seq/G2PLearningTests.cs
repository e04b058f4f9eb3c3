using MLNetDeep.Datasets;
using MLNetDeep.Models.Seq2Seq;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Seq2Seq;

/// <summary>The model learns grapheme-to-phoneme conversion on real CMUdict words, well beyond a trivial baseline.</summary>
public sealed class G2PLearningTests
{
    private readonly ITestOutputHelper _out;
    public G2PLearningTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void AttentionModel_OnHeldOutWords_BeatsLetterByLetterBaseline()
    {
        var net = G2PData.Trained.Value;
        var test = CmuDict.Read(CmuDictSplit.Test, take: 500, variants: CmuDictVariants.First);
        var predictions = Seq2SeqLoop.Decode(net, test.Select(e => CmuDict.LetterIds(e.Word)).ToList());
        var references = test.Select(e => (IReadOnlyList<IReadOnlyList<int>>)e.Alternatives.Select(a => (IReadOnlyList<int>)CmuDict.PhonemeIds(a)).ToList()).ToList();
        var metrics = Seq2SeqMetrics.Compute(predictions.Select(p => (IReadOnlyList<int>)p.Tokens).ToList(), references);

        var baseline = Seq2SeqMetrics.Compute(test.Select(e => (IReadOnlyList<int>)G2PData.LetterByLetter(e.Word)).ToList(), references);
        _out.WriteLine($"model: PER {metrics.TokenErrorRate:F4}, word accuracy {metrics.ExactMatch:F4}, BLEU {metrics.Bleu:F4}; " +
                       $"letter-by-letter baseline: PER {baseline.TokenErrorRate:F4}, word accuracy {baseline.ExactMatch:F4}");
        Assert.True(metrics.TokenErrorRate < 0.5 * baseline.TokenErrorRate, $"PER {metrics.TokenErrorRate:F4} vs baseline {baseline.TokenErrorRate:F4}");
        Assert.True(metrics.ExactMatch > 0.25 && metrics.ExactMatch > 3 * baseline.ExactMatch, $"word accuracy {metrics.ExactMatch:F4} vs baseline {baseline.ExactMatch:F4}");
    }
}
