using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Tests.Support;

namespace MLNetDeep.Tests.Sequence;

/// <summary>A numeric sequence row (steps × features laid end to end, any length).</summary>
public sealed class SeriesRow
{
    [VectorType] public float[] Features { get; set; } = Array.Empty<float>();
    public float Label { get; set; }
}

/// <summary>A fixed-length numeric sequence row with a class label.</summary>
public sealed class ClassSeriesRow
{
    public float[] Features { get; set; } = Array.Empty<float>();
    public uint Label { get; set; }
}

/// <summary>A short review-like sentence with its sentiment and per-word tags.</summary>
public sealed class SentenceRow
{
    public string Text { get; set; } = "";
    public bool Label { get; set; }
    public string Tags { get; set; } = "";
}

/// <summary>Data for the sequence tests: real Fashion-MNIST read row by row, memory tasks and synthetic text.</summary>
public static class SequenceData
{
    /// <summary>
    /// The adding problem (Hochreiter &amp; Schmidhuber, 1997; Le et al., 2015): each step has a random value in
    /// [0, 1) and a marker; exactly two steps are marked, one in the first half and one in the second; the target is
    /// the sum of the two marked values. Predicting the mean (1.0) gives MSE ≈ 0.167; solving it needs a memory of
    /// a value seen up to <paramref name="steps"/> steps before the end.
    /// </summary>
    public static List<SeriesRow> Adding(int rows, int steps, int seed) =>
        MLNetDeep.Datasets.AddingProblem.Generate(rows, steps, seed).Select(r => new SeriesRow { Features = r.Features, Label = r.Label }).ToList();

    private static readonly string[] Subjects = { "the battery", "the screen", "the camera", "this phone", "the price", "delivery", "the sound", "the case", "support", "the app" };
    private static readonly string[] Positive = { "good", "great", "excellent", "fine", "amazing", "solid", "fast", "bright" };
    private static readonly string[] Negative = { "bad", "terrible", "awful", "poor", "slow", "weak", "noisy", "dim" };
    private static readonly string[] Openers = { "", "", "i think", "honestly", "overall", "to be fair", "after a week" };
    private static readonly string[] Intensifiers = { "", "", "", "really", "very", "quite", "pretty" };

    /// <summary>
    /// Review-like sentences of 3 to ~20 words: one or two clauses "subject is [not] [intensifier] adjective" joined by
    /// "but". The sentiment (Label) is that of the last clause, with "not" flipping it, so word order matters. Tags give
    /// each word's role: POS / NEG on an adjective (after negation), NOT on "not", O elsewhere.
    /// </summary>
    public static List<SentenceRow> Sentences(int rows, int seed)
    {
        var rng = new Random(seed);
        var result = new List<SentenceRow>(rows);
        for (int r = 0; r < rows; r++)
        {
            var words = new List<string>();
            var tags = new List<string>();
            void Add(string phrase, string tag)
            {
                foreach (var w in phrase.Split(' ', StringSplitOptions.RemoveEmptyEntries)) { words.Add(w); tags.Add(tag); }
            }
            Add(Openers[rng.Next(Openers.Length)], "O");
            int clauses = rng.Next(2) + 1;
            bool sentiment = false;
            for (int c = 0; c < clauses; c++)
            {
                if (c > 0) Add("but", "O");
                Add(Subjects[rng.Next(Subjects.Length)], "O");
                Add(rng.Next(2) == 0 ? "is" : "was", "O");
                bool negated = rng.Next(3) == 0;
                if (negated) Add("not", "NOT");
                Add(Intensifiers[rng.Next(Intensifiers.Length)], "O");
                bool positiveWord = rng.Next(2) == 0;
                sentiment = positiveWord ^ negated;
                Add(positiveWord ? Positive[rng.Next(Positive.Length)] : Negative[rng.Next(Negative.Length)], sentiment ? "POS" : "NEG");
            }
            result.Add(new SentenceRow { Text = string.Join(' ', words), Label = sentiment, Tags = string.Join(' ', tags) });
        }
        return result;
    }

    /// <summary>Text → "Tokens" (key vector of words). Fit on <paramref name="fitOn"/> so training and test share one vocabulary.</summary>
    public static ITransformer Tokenizer(MLContext ml, IDataView fitOn) =>
        ml.Transforms.Text.TokenizeIntoWords("Tokens", "Text")
            .Append(ml.Transforms.Conversion.MapValueToKey("Tokens"))
            .Fit(fitOn);

    /// <summary>Text → "Tokens"; Tags → "TagKeys" (key vector, one tag per word).</summary>
    public static ITransformer TaggingFeaturizer(MLContext ml, IDataView fitOn) =>
        ml.Transforms.Text.TokenizeIntoWords("Tokens", "Text")
            .Append(ml.Transforms.Conversion.MapValueToKey("Tokens"))
            .Append(ml.Transforms.Text.TokenizeIntoWords("TagWords", "Tags"))
            .Append(ml.Transforms.Conversion.MapValueToKey("TagKeys", "TagWords"))
            .Fit(fitOn);
}
