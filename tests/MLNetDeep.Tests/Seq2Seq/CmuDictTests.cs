using MLNetDeep.Datasets;
using Xunit;

namespace MLNetDeep.Tests.Seq2Seq;

/// <summary>The CMUdict loader: real data, a deterministic word-level split, variants kept together.</summary>
[Trait("Category", "Unit")]
public sealed class CmuDictTests
{
    [Fact]
    public void Splits_AreDisjointByWord_Deterministic_AndSizedAsDocumented()
    {
        var train = CmuDict.Read(CmuDictSplit.Train, variants: CmuDictVariants.First);
        var validation = CmuDict.Read(CmuDictSplit.Validation, variants: CmuDictVariants.First);
        var test = CmuDict.Read(CmuDictSplit.Test, variants: CmuDictVariants.First);
        int words = train.Count + validation.Count + test.Count;
        Assert.Equal(124804, words);
        Assert.InRange(test.Count / (double)words, 0.095, 0.105);
        Assert.InRange(validation.Count / (double)words, 0.045, 0.055);
        var trainWords = train.Select(e => e.Word).ToHashSet();
        Assert.DoesNotContain(test, e => trainWords.Contains(e.Word));
        Assert.DoesNotContain(validation, e => trainWords.Contains(e.Word));
        Assert.Equal(test.Select(e => e.Word).Take(50), CmuDict.Read(CmuDictSplit.Test, take: 50).Select(e => e.Word).Distinct().Take(50));
        Assert.NotEqual(test.Select(e => e.Word).Take(50), CmuDict.Read(CmuDictSplit.Test, take: 50, variants: CmuDictVariants.First, seed: 1).Select(e => e.Word));
    }

    [Fact]
    public void Rows_HoldRealPronunciations_WithVariantsTogether()
    {
        var all = CmuDict.Read(CmuDictSplit.Train, variants: CmuDictVariants.All);
        Assert.Equal(133515, all.Count + CmuDict.Read(CmuDictSplit.Validation).Count + CmuDict.Read(CmuDictSplit.Test).Count);
        var phonemes = CmuDict.Phonemes.ToHashSet();
        Assert.All(all.Take(2000), e =>
        {
            Assert.Matches("^[a-z']+$", e.Word);
            Assert.All(e.Phonemes.Split(' '), p => Assert.Contains(p, phonemes));
            Assert.Contains(e.Phonemes, e.Alternatives);
        });
        // "read" has two pronunciations in CMUdict; wherever it landed, both rows are in the same split.
        var read = new[] { CmuDictSplit.Train, CmuDictSplit.Validation, CmuDictSplit.Test }.SelectMany(s => CmuDict.Read(s).Where(e => e.Word == "read")).ToList();
        Assert.Equal(new[] { "R EH D", "R IY D" }, read.Select(e => e.Phonemes).OrderBy(p => p));
        // A sample by take spans the alphabet (hash order), not just the first letters.
        Assert.True(CmuDict.Read(CmuDictSplit.Train, take: 300).Select(e => e.Word[0]).Distinct().Count() > 20);
        Assert.Equal("N AY T", CmuDict.PhonemeString(CmuDict.PhonemeIds("N AY T")));
        Assert.Equal(new float[] { 12, 15, 10, 8, 21 }, CmuDict.LetterIds("knigt"));
    }

    [Fact]
    public void BadArguments_AndAMissingFile_AreExplained()
    {
        var missing = Assert.Throws<FileNotFoundException>(() => CmuDict.Read(CmuDictSplit.Test, path: "/nonexistent/cmudict.dict"));
        Assert.Contains("apt-get install pocketsphinx-en-us", missing.Message);
        Assert.Contains("take=0", Assert.Throws<ArgumentOutOfRangeException>(() => CmuDict.Read(CmuDictSplit.Test, take: 0)).Message);
        Assert.Contains("testFraction=0.6", Assert.Throws<ArgumentOutOfRangeException>(() => CmuDict.Read(CmuDictSplit.Test, validationFraction: 0.5, testFraction: 0.6)).Message);
        Assert.Contains("'1'", Assert.Throws<ArgumentException>(() => CmuDict.LetterIds("a1")).Message);
    }
}
