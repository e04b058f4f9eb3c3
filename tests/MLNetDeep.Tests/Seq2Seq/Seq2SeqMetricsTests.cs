using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models.Seq2Seq;
using Xunit;

namespace MLNetDeep.Tests.Seq2Seq;

/// <summary>Seq2SeqMetrics against hand-computed cases and NLTK 3.8 (fixture written by Fixtures/seq2seq_metrics_nltk.py, so CI needs no Python).</summary>
[Trait("Category", "Unit")]
public sealed class Seq2SeqMetricsTests
{
    private static IReadOnlyList<int> S(params int[] t) => t;

    [Theory]
    [InlineData(new[] { 1, 2, 3 }, new[] { 1, 2, 3 }, 0)]
    [InlineData(new[] { 1, 2, 3 }, new[] { 1, 3 }, 1)]          // one deletion
    [InlineData(new[] { 1, 2, 3 }, new[] { 1, 4, 3, 5 }, 2)]    // a substitution and an insertion
    [InlineData(new int[0], new[] { 7, 7 }, 2)]
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 4, 3, 2, 1 }, 4)]
    public void EditDistance_HandComputed(int[] a, int[] b, int expected)
    {
        Assert.Equal(expected, Seq2SeqMetrics.EditDistance(a, b));
        Assert.Equal(expected, Seq2SeqMetrics.EditDistance(b, a));
    }

    [Fact]
    public void ExactMatchAndTokenErrorRate_HandComputed()
    {
        // Row 0 exact; row 1: 1 substitution against a 4-token reference; row 2: matches its second reference.
        var m = Seq2SeqMetrics.Compute(
            new[] { S(1, 2, 3), S(1, 2, 9, 4), S(5, 6) },
            new IReadOnlyList<IReadOnlyList<int>>[] { new[] { S(1, 2, 3) }, new[] { S(1, 2, 3, 4) }, new[] { S(5, 5, 5), S(5, 6) } });
        Assert.Equal(2.0 / 3, m.ExactMatch, 12);
        Assert.Equal(1.0 / (3 + 4 + 2), m.TokenErrorRate, 12);  // closest references: lengths 3, 4, 2
        Assert.Equal(3, m.Rows);
    }

    [Fact]
    public void Bleu_HandComputed_PerfectAndBrevityPenalty()
    {
        var perfect = Seq2SeqMetrics.Compute(new[] { S(1, 2, 3, 4, 5) }, new[] { S(1, 2, 3, 4, 5) });
        Assert.Equal(1.0, perfect.Bleu, 12);
        // A 4-token prefix of a 5-token reference: every n-gram precision is 1, BP = exp(1 - 5/4).
        var prefix = Seq2SeqMetrics.Compute(new[] { S(1, 2, 3, 4) }, new[] { S(1, 2, 3, 4, 5) });
        Assert.Equal(Math.Exp(1 - 5.0 / 4), prefix.BrevityPenalty, 12);
        Assert.Equal(Math.Exp(1 - 5.0 / 4), prefix.Bleu, 12);
        // Repeated tokens are clipped: "1 1 1 1" against "1 2 3 4" has unigram precision 1/4 and no matching bigram.
        var clipped = Seq2SeqMetrics.Compute(new[] { S(1, 1, 1, 1) }, new[] { S(1, 2, 3, 4) });
        Assert.Equal(0.25, clipped.BleuPrecisions[0], 12);
        Assert.Equal(0.0, clipped.Bleu);
    }

    [Fact]
    public void CorpusBleuAndEditDistances_MatchNltk()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "seq2seq_metrics_nltk.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        int cases = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var hyps = c.GetProperty("hypotheses").EnumerateArray().Select(h => (IReadOnlyList<int>)h.EnumerateArray().Select(v => v.GetInt32()).ToArray()).ToList();
            var refs = c.GetProperty("references").EnumerateArray().Select(rs => (IReadOnlyList<IReadOnlyList<int>>)rs.EnumerateArray()
                .Select(r => (IReadOnlyList<int>)r.EnumerateArray().Select(v => v.GetInt32()).ToArray()).ToList()).ToList();
            var m = Seq2SeqMetrics.Compute(hyps, refs);
            Assert.Equal(c.GetProperty("bleu").GetDouble(), m.Bleu, 10);
            var distances = c.GetProperty("min_edit_distances").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            for (int i = 0; i < hyps.Count; i++)
                Assert.Equal(distances[i], refs[i].Min(r => Seq2SeqMetrics.EditDistance(hyps[i].ToArray(), r.ToArray())));
            cases++;
        }
        Assert.Equal(6, cases);
    }

    private sealed class Scored
    {
        [KeyType(10)] public uint[] Label { get; set; } = Array.Empty<uint>();
        [KeyType(10)] public uint[] PredictedLabel { get; set; } = Array.Empty<uint>();
    }

    [Fact]
    public void Evaluate_ReadsKeyVectorColumnsOfAnIDataView()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[]
        {
            new Scored { Label = new uint[] { 1, 2, 3 }, PredictedLabel = new uint[] { 1, 2, 3 } },
            new Scored { Label = new uint[] { 4, 5 }, PredictedLabel = new uint[] { 4 } },
        });
        var m = Seq2SeqMetrics.Evaluate(data);
        Assert.Equal(0.5, m.ExactMatch, 12);
        Assert.Equal(1.0 / 5, m.TokenErrorRate, 12);

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => Seq2SeqMetrics.Evaluate(data, labelColumnName: "Phonemes"));
        Assert.Contains("'Phonemes'", missing.Message);
        var bad = ml.Data.LoadFromEnumerable(new[] { new Scored { Label = new uint[] { 1, 0 }, PredictedLabel = new uint[] { 1 } } });
        var zero = Assert.Throws<InvalidDataException>(() => Seq2SeqMetrics.Evaluate(bad));
        Assert.Contains("row 0", zero.Message);
    }
}
