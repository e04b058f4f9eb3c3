using MLNetDeep.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Models.Sequence;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Seq2Seq;

/// <summary>Real CMUdict grapheme-to-phoneme rows (Debian's pocketsphinx-en-us) as seq2seq examples, and small architectures for them.</summary>
internal static class G2PData
{
    public const int Letters = 27, Phonemes = 39;

    public static List<Seq2SeqExample> Examples(CmuDictSplit split, int words, CmuDictVariants variants = CmuDictVariants.All) =>
        CmuDict.Read(split, take: words, variants: variants)
            .Select(e => new Seq2SeqExample(CmuDict.LetterIds(e.Word), CmuDict.PhonemeIds(e.Phonemes))).ToList();

    /// <summary>A small bidirectional-LSTM encoder / LSTM decoder for letters → phonemes.</summary>
    public static Seq2SeqArchitecture Architecture(AttentionKind attention = AttentionKind.LuongGeneral, RecurrentCell cell = RecurrentCell.Lstm,
        int hidden = 64, int maxOutput = 30, bool bidirectional = true) => new()
    {
        Input = new TokenSequenceLayout { VocabularySize = Letters },
        Encoder = new RecurrentEncoder { Cell = cell, HiddenSize = hidden, Bidirectional = bidirectional, EmbeddingSize = 32 },
        Decoder = new RecurrentDecoder { Cell = cell, HiddenSize = attention == AttentionKind.LuongDot ? hidden * (bidirectional ? 2 : 1) : hidden, EmbeddingSize = 32, Attention = attention, AttentionSize = 64 },
        TargetVocabularySize = Phonemes,
        MaxOutputLength = maxOutput,
    };

    public static Seq2SeqNetwork Build(Seq2SeqArchitecture arch, int seed = 1)
    {
        random.manual_seed(seed);
        return (Seq2SeqNetwork)arch.Build(arch.TargetVocabularySize!.Value, null);
    }

    /// <summary>Trained once per test run and shared (the decoding tests need a model that has learned something).</summary>
    public static readonly Lazy<Seq2SeqNetwork> Trained = new(() =>
    {
        var net = Build(Architecture());
        Seq2SeqLoop.Train(net, Examples(CmuDictSplit.Train, 3000), new Seq2SeqLoopOptions { Epochs = 4, BatchSize = 64, LearningRate = 3e-3, Seed = 1 });
        return net;
    });

    /// <summary>Every pronunciation of each test word, for multi-reference scoring.</summary>
    public static List<IReadOnlyList<IReadOnlyList<int>>> References(IEnumerable<G2PEntry> entries) =>
        entries.Select(e => (IReadOnlyList<IReadOnlyList<int>>)e.Alternatives.Select(a => (IReadOnlyList<int>)CmuDict.PhonemeIds(a)).ToList()).ToList();

    /// <summary>
    /// The trivial baseline: each letter becomes the phoneme it most often stands for in training words whose spelling and
    /// pronunciation have the same length (aligned one to one), doubled letters collapse, and unknown letters are dropped.
    /// </summary>
    private static readonly Lazy<Dictionary<char, int>> LetterToPhoneme = new(() =>
    {
        var counts = new Dictionary<(char, int), int>();
        foreach (var e in CmuDict.Read(CmuDictSplit.Train, take: 3000, variants: CmuDictVariants.First))
        {
            var ids = CmuDict.PhonemeIds(e.Phonemes);
            if (ids.Length != e.Word.Length) continue;
            for (int i = 0; i < ids.Length; i++) counts[(e.Word[i], ids[i])] = counts.GetValueOrDefault((e.Word[i], ids[i])) + 1;
        }
        return counts.GroupBy(kv => kv.Key.Item1).ToDictionary(g => g.Key, g => g.MaxBy(kv => kv.Value).Key.Item2);
    });

    public static int[] LetterByLetter(string word)
    {
        var result = new List<int>();
        for (int i = 0; i < word.Length; i++)
        {
            if (i > 0 && word[i] == word[i - 1]) continue;
            if (LetterToPhoneme.Value.TryGetValue(word[i], out var p)) result.Add(p);
        }
        return result.ToArray();
    }
}
