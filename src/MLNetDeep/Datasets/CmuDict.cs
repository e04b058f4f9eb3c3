using System.Text;
using Microsoft.ML;

namespace MLNetDeep.Datasets;

/// <summary>Which part of CMUdict <see cref="CmuDict.Read"/> returns (a seeded split by word, so a word's variants stay together).</summary>
public enum CmuDictSplit
{
    /// <summary>Everything not in <see cref="Validation"/> or <see cref="Test"/> (85% of the words by default).</summary>
    Train,
    /// <summary>Held out for per-epoch validation and early stopping (5% of the words by default).</summary>
    Validation,
    /// <summary>Held out for the final figures (10% of the words by default: about 12,500 words, near the 12,000 of the published test set).</summary>
    Test,
}

/// <summary>What <see cref="CmuDict.Read"/> does with a word that has several pronunciations (9% of the words do, e.g. "read").</summary>
public enum CmuDictVariants
{
    /// <summary>One row per pronunciation (the word repeats). The usual choice for training.</summary>
    All,
    /// <summary>One row per word, with its first (main) pronunciation as the target and the others in <see cref="G2PEntry.Alternatives"/>.</summary>
    First,
}

/// <summary>One CMUdict row: a word's spelling and one pronunciation (space-separated ARPAbet phonemes, no stress marks).</summary>
public sealed class G2PEntry
{
    /// <summary>The word in lower case, letters a–z and the apostrophe, e.g. "knight".</summary>
    public string Word { get; set; } = "";

    /// <summary>Its pronunciation, phonemes separated by single spaces, e.g. "N AY T".</summary>
    public string Phonemes { get; set; } = "";

    /// <summary>
    /// With <see cref="CmuDictVariants.First"/>: every pronunciation of the word, the first one included (for multi-reference
    /// scoring: a prediction is right when it matches any of them). With <see cref="CmuDictVariants.All"/>: the same list on every row.
    /// Not an ML.NET column (an IDataView can't hold a list of strings); <see cref="CmuDict.Load"/> leaves it out.
    /// </summary>
    [Microsoft.ML.Data.NoColumn]
    public string[] Alternatives { get; set; } = Array.Empty<string>();
}

/// <summary>
/// The CMU Pronouncing Dictionary (Carnegie Mellon University; ~134,000 North American English pronunciations) as a
/// grapheme-to-phoneme (G2P) transduction task: spelling in, phoneme sequence out (inputs of 1–28 letters, outputs of
/// 1–28 of 39 phonemes). Read from CMU Sphinx's copy that Debian's <c>pocketsphinx-en-us</c> package installs
/// (<see cref="DebianPath"/>; stress marks are already stripped there, so there are 39 phonemes, not 69). Words with
/// characters other than a–z and the apostrophe (abbreviations like "a.m.", hyphenated entries, digits) are left out:
/// 124,804 words with 133,515 pronunciations remain.
/// <para>
/// The split is by word and deterministic: a word goes to a part by a hash of its spelling and the seed (FNV-1a, written
/// out here, so the split is the same on every machine and .NET version), and each part comes back in hash order, so
/// <c>take</c> gives an unbiased sample rather than the first letters of the alphabet. The published CMUdict G2P
/// results (Yao &amp; Zweig 2015 and others) use a fixed 106,837 / 12,000-word train / test list of the stressed 0.7a
/// dictionary, which isn't shipped here; figures on this split are comparable in size and kind, not identical.
/// </para>
/// </summary>
public static class CmuDict
{
    /// <summary>Where Debian's pocketsphinx-en-us package puts the dictionary.</summary>
    public const string DebianPath = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict";

    /// <summary>The 39 ARPAbet phonemes of the dictionary, in alphabetical order.</summary>
    public static readonly IReadOnlyList<string> Phonemes = new[]
    {
        "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY", "JH", "K",
        "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
    };

    /// <summary>The 27 graphemes: the apostrophe and a–z.</summary>
    public const string Letters = "'abcdefghijklmnopqrstuvwxyz";

    /// <summary>A word as grapheme ids 1..27 (positions in <see cref="Letters"/> + 1; 0 stays free for padding), as floats for the token layout.</summary>
    public static float[] LetterIds(string word) => word.Select(ch =>
    {
        int i = Letters.IndexOf(ch);
        if (i < 0) throw new ArgumentException($"'{word}' has the character '{ch}', which is not a CMUdict grapheme (a-z or '). Received: word={word}", nameof(word));
        return (float)(i + 1);
    }).ToArray();

    /// <summary>A pronunciation ("N AY T") as phoneme ids 1..39 (positions in <see cref="Phonemes"/> + 1).</summary>
    public static int[] PhonemeIds(string pronunciation) => pronunciation.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p =>
    {
        int i = PhonemeIndex.TryGetValue(p, out var v) ? v : -1;
        if (i < 0) throw new ArgumentException($"'{p}' is not one of the 39 CMUdict phonemes. Received: pronunciation={pronunciation}", nameof(pronunciation));
        return i + 1;
    }).ToArray();

    /// <summary>Phoneme ids 1..39 back to a pronunciation string.</summary>
    public static string PhonemeString(IEnumerable<int> ids) => string.Join(' ', ids.Select(i => i >= 1 && i <= Phonemes.Count ? Phonemes[i - 1] : "?"));

    private static readonly Dictionary<string, int> PhonemeIndex = Phonemes.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i, StringComparer.Ordinal);

    /// <summary>Default share of words in <see cref="CmuDictSplit.Test"/>.</summary>
    public const double DefaultTestFraction = 0.10;
    /// <summary>Default share of words in <see cref="CmuDictSplit.Validation"/>.</summary>
    public const double DefaultValidationFraction = 0.05;

    private static readonly object CacheLock = new();
    private static (string Path, List<(string Word, string[] Pronunciations)> Words)? _cache;

    /// <summary>
    /// One split of the dictionary. <paramref name="take"/> limits the number of words (not rows); <paramref name="seed"/>
    /// changes which words land in which split; the fractions set the validation and test shares.
    /// </summary>
    public static List<G2PEntry> Read(CmuDictSplit split, int? take = null, CmuDictVariants variants = CmuDictVariants.All,
        int seed = 0, double validationFraction = DefaultValidationFraction, double testFraction = DefaultTestFraction, string? path = null)
    {
        if (!Enum.IsDefined(split)) throw new ArgumentOutOfRangeException(nameof(split), split, $"split must be Train, Validation or Test. Received: split={split}");
        if (!Enum.IsDefined(variants)) throw new ArgumentOutOfRangeException(nameof(variants), variants, $"variants must be All or First. Received: variants={variants}");
        if (take is int t && t <= 0) throw new ArgumentOutOfRangeException(nameof(take), t, $"take must be > 0 words, or null for the whole split. Received: take={t}");
        if (!(validationFraction >= 0 && testFraction >= 0 && validationFraction + testFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction,
                $"validationFraction and testFraction must be >= 0 and add up to less than 1. Received: validationFraction={validationFraction}, testFraction={testFraction}");

        var chosen = new List<(uint Hash, string Word, string[] Pronunciations)>();
        foreach (var (word, pronunciations) in Words(path ?? DebianPath))
        {
            uint h = Hash(word, seed);
            double u = h / 4294967296.0;
            var part = u < testFraction ? CmuDictSplit.Test : u < testFraction + validationFraction ? CmuDictSplit.Validation : CmuDictSplit.Train;
            if (part == split) chosen.Add((h, word, pronunciations));
        }
        chosen.Sort((a, b) => a.Hash != b.Hash ? a.Hash.CompareTo(b.Hash) : string.CompareOrdinal(a.Word, b.Word));
        var result = new List<G2PEntry>();
        foreach (var (_, word, pronunciations) in chosen.Take(take ?? int.MaxValue))
        {
            if (variants == CmuDictVariants.First)
                result.Add(new G2PEntry { Word = word, Phonemes = pronunciations[0], Alternatives = pronunciations });
            else
                foreach (var p in pronunciations) result.Add(new G2PEntry { Word = word, Phonemes = p, Alternatives = pronunciations });
        }
        return result;
    }

    /// <summary>The split as an IDataView with String columns Word and Phonemes.</summary>
    public static IDataView Load(MLContext mlContext, CmuDictSplit split, int? take = null, CmuDictVariants variants = CmuDictVariants.All, int seed = 0, string? path = null)
        => mlContext.Data.LoadFromEnumerable(Read(split, take, variants, seed, path: path));

    /// <summary>
    /// The 27 graphemes as key data for <c>MapValueToKey(..., keyData: CmuDict.LetterKeys(ml))</c>: the letter keys are then
    /// 1..27 in <see cref="Letters"/> order (the ids of <see cref="LetterIds"/>), whichever words the mapping is fitted on.
    /// </summary>
    public static IDataView LetterKeys(MLContext mlContext) => KeyData(mlContext, Letters.Select(c => c.ToString()));

    /// <summary>The 39 phonemes as key data for <c>MapValueToKey</c>: keys 1..39 in <see cref="Phonemes"/> order (the ids of <see cref="PhonemeIds"/>).</summary>
    public static IDataView PhonemeKeys(MLContext mlContext) => KeyData(mlContext, Phonemes);

    /// <summary>
    /// The ML.NET featurization of the G2P task, for the seq2seq trainer: the Word column → TokenizeIntoCharactersAsKeys →
    /// MapKeyToValue → MapValueToKey with <see cref="LetterKeys"/> gives <paramref name="lettersColumn"/> (27 keys, the ids of
    /// <see cref="LetterIds"/>); the Phonemes column → TokenizeIntoWords → MapValueToKey with <see cref="PhonemeKeys"/> gives
    /// <paramref name="phonemesColumn"/> (39 keys, the ids of <see cref="PhonemeIds"/>). The key sets are the dictionary's, so
    /// what the chain is fitted on does not matter.
    /// </summary>
    public static IEstimator<ITransformer> Featurize(MLContext mlContext, string lettersColumn = "Letters", string phonemesColumn = "Label")
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        var t = mlContext.Transforms;
        return t.Text.TokenizeIntoCharactersAsKeys(lettersColumn, nameof(G2PEntry.Word), useMarkerCharacters: false)
            .Append(t.Conversion.MapKeyToValue(lettersColumn))
            .Append(t.Conversion.MapValueToKey(lettersColumn, keyData: LetterKeys(mlContext)))
            .Append(t.Text.TokenizeIntoWords(phonemesColumn, nameof(G2PEntry.Phonemes)))
            .Append(t.Conversion.MapValueToKey(phonemesColumn, keyData: PhonemeKeys(mlContext)));
    }

    private static IDataView KeyData(MLContext mlContext, IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return mlContext.Data.LoadFromEnumerable(values.Select(v => new KeyText { Value = v }).ToList());
    }

    private sealed class KeyText
    {
        public string Value { get; set; } = "";
    }

    /// <summary>Every kept word with its pronunciations in file order (parsed once per path).</summary>
    private static List<(string Word, string[] Pronunciations)> Words(string path)
    {
        lock (CacheLock)
        {
            if (_cache is { } c && c.Path == path) return c.Words;
            if (!File.Exists(path))
                throw new FileNotFoundException(
                    $"CMUdict not found at '{path}'. On Debian/Ubuntu install it with 'apt-get install pocketsphinx-en-us' " +
                    "(or run scripts/setup.sh), or pass the path of a CMU Sphinx-format dictionary (lines 'word PH O N E S', variants 'word(2) ...').", path);
            var order = new List<string>();
            var map = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            int lineNumber = 0;
            foreach (var raw in File.ReadLines(path, Encoding.UTF8))
            {
                lineNumber++;
                var line = raw.Trim();
                if (line.Length == 0 || line.StartsWith(";;;", StringComparison.Ordinal)) continue;
                int space = line.IndexOfAny(new[] { ' ', '\t' });
                if (space <= 0) throw new InvalidDataException($"'{path}', line {lineNumber}: expected 'word PHONEMES', got '{raw}'.");
                var word = line[..space];
                int paren = word.IndexOf('(');
                if (paren > 0 && word.EndsWith(')')) word = word[..paren];
                if (!word.All(ch => ch is >= 'a' and <= 'z' or '\'')) continue;
                var phonemes = string.Join(' ', line[(space + 1)..].Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries));
                if (phonemes.Length == 0) throw new InvalidDataException($"'{path}', line {lineNumber}: '{word}' has no phonemes.");
                if (!map.TryGetValue(word, out var list))
                {
                    map[word] = list = new List<string>();
                    order.Add(word);
                }
                if (!list.Contains(phonemes)) list.Add(phonemes);
            }
            var words = order.Select(w => (w, map[w].ToArray())).ToList();
            _cache = (path, words);
            return words;
        }
    }

    /// <summary>32-bit FNV-1a of the seed's four bytes then the word's UTF-8 bytes.</summary>
    private static uint Hash(string word, int seed)
    {
        uint h = 2166136261;
        for (int i = 0; i < 4; i++) h = (h ^ (byte)(seed >> (8 * i))) * 16777619;
        foreach (var b in Encoding.UTF8.GetBytes(word)) h = (h ^ b) * 16777619;
        // FNV's low bits mix poorly for short keys: finish with a murmur-style avalanche so the split is uniform.
        h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16;
        return h;
    }
}
