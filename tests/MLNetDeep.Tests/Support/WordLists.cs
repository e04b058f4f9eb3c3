namespace MLNetDeep.Tests.Support;

/// <summary>
/// Real words from Debian's word lists: American English (package wamerican) and German (package wngerman), both
/// installed by scripts/setup.sh. Used for text tasks whose labels follow honestly from the data: which list a word
/// comes from, and each letter being a vowel or a consonant.
/// </summary>
public static class WordLists
{
    public const string English = "/usr/share/dict/american-english";
    public const string German = "/usr/share/dict/ngerman";

    private static readonly Dictionary<string, List<string>> Cache = new();

    /// <summary>
    /// <paramref name="n"/> distinct lower-case words of 3 to 10 letters from the list, spread over the whole file (every k-th
    /// qualifying word), starting at the <paramref name="part"/>-th spread (0, 1, ... give disjoint sets).
    /// </summary>
    public static List<string> Words(string path, int n, int part = 0)
    {
        List<string> all;
        lock (Cache)
        {
            if (!Cache.TryGetValue(path, out all!))
            {
                if (!File.Exists(path))
                    throw new FileNotFoundException($"{path} is missing: install Debian's {(path == German ? "wngerman" : "wamerican")} (bash scripts/setup.sh does).", path);
                all = File.ReadLines(path).Where(w => w.Length is >= 3 and <= 10 && w.All(c => char.IsLetter(c) && char.IsLower(c)))
                    .Distinct(StringComparer.Ordinal).ToList();
                Cache[path] = all;
            }
        }
        int stride = Math.Max(1, all.Count / (4 * n));
        return all.Where((_, i) => i % stride == part % stride).Skip(part / stride * n).Take(n).ToList();
    }

    /// <summary>Per-letter tags: 'V' for a vowel (a e i o u y, with umlauts), 'C' otherwise.</summary>
    public static string VowelTags(string word) => new(word.Select(c => "aeiouyäöü".Contains(c) ? 'V' : 'C').ToArray());
}
