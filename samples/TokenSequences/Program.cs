// Token sequences built from text with ML.NET's own transforms (TokenizeIntoWords + MapValueToKey):
//  1. many-to-one: review sentiment with a bidirectional LSTM, next to ML.NET's bag-of-words baseline, on reviews
//     whose verdict depends on word order ("the screen is great but the battery is not good");
//  2. many-to-many: a tagger that labels every word (ASPECT, POS, NEG, NOT, O), evaluated per step.
// The reviews are generated (no downloads): a seeded grammar of short product reviews, described in Reviews below.
//   dotnet run -c Release --project samples/TokenSequences -- [--train N] [--epochs E] [--out tagger.mlnd]
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;

int trainRows = Arg("--train", 4000), epochs = Arg("--epochs", 8);
string outPath = ArgS("--out", "review-tagger.mlnd");
var ml = new MLContext(seed: 1);

var trainRowsList = Reviews.Generate(trainRows, seed: 1);
var testRowsList = Reviews.Generate(1000, seed: 2);
IDataView train = ml.Data.LoadFromEnumerable(trainRowsList), test = ml.Data.LoadFromEnumerable(testRowsList);
Console.WriteLine($"{trainRows} training and 1000 test reviews, e.g.:");
foreach (var r in trainRowsList.Take(3)) Console.WriteLine($"  [{(r.Label ? "positive" : "negative")}] {r.Text}\n      tags: {r.Tags}");

// --- 1. Sentiment: bag of words (ML.NET's FeaturizeText + logistic regression) vs a bidirectional LSTM over the words.
var bagOfWords = ml.Transforms.Text.FeaturizeText("Features", "Text")
    .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression());
var bowAccuracy = ml.BinaryClassification.Evaluate(bagOfWords.Fit(train).Transform(test)).Accuracy;
Console.WriteLine($"\nbag-of-words logistic regression: test accuracy {bowAccuracy:F4}");

// Words → key ids. The key mapping is fitted on the training text; a word it never saw becomes key 0, which the
// sequence trainer embeds as the (never learned) zero vector.
var words = ml.Transforms.Text.TokenizeIntoWords("Words", "Text")
    .Append(ml.Transforms.Conversion.MapValueToKey("Tokens", "Words"));
var sw = Stopwatch.StartNew();
var lstm = words.Append(ml.BinaryClassification.Trainers.Lstm(new TokenSequence(EmbeddingSize: 32), hiddenSize: 64, bidirectional: true,
    featureColumnName: "Tokens", epochs: epochs, batchSize: 32, learningRate: 3e-3)).Fit(train);
var lstmMetrics = ml.BinaryClassification.Evaluate(lstm.Transform(test));
Console.WriteLine($"bidirectional LSTM over the words:  test accuracy {lstmMetrics.Accuracy:F4}, AUC {lstmMetrics.AreaUnderRocCurve:F4} " +
                  $"(trained in {sw.Elapsed.TotalSeconds:F1}s)");

// The whole pipeline (tokenizer, key mapping, LSTM) as an ordinary ML.NET model zip: the LSTM travels as ONNX behind
// a pad mapping (MLNetDeep.Onnx), and the loaded pipeline needs ML.NET and ONNX Runtime, not TorchSharp.
var zipPath = Path.Combine(Path.GetTempPath(), "mlnetdeep-sentiment.zip");
ml.Model.Save(lstm, train.Schema, zipPath);
var loadedSentiment = new MLContext().Model.Load(zipPath, out _);
var loadedMetrics = ml.BinaryClassification.Evaluate(loadedSentiment.Transform(test));
Console.WriteLine($"the same pipeline saved with mlContext.Model.Save and loaded: test accuracy {loadedMetrics.Accuracy:F4}, " +
                  $"AUC {loadedMetrics.AreaUnderRocCurve:F4} ({new FileInfo(zipPath).Length / 1024} KiB)");

// --- 2. Tagging: one tag per word. The tags are tokenized like the text, so they line up word for word.
var featurizer = words
    .Append(ml.Transforms.Text.TokenizeIntoWords("TagWords", "Tags"))
    .Append(ml.Transforms.Conversion.MapValueToKey("TagKeys", "TagWords"))
    .Fit(train);
sw.Restart();
var tagger = ml.MulticlassClassification.Trainers.SequenceTagging(new SequenceOptions
{
    Input = new TokenSequence(EmbeddingSize: 32),
    FeatureColumnName = "Tokens",
    LabelColumnName = "TagKeys",
    Cell = RecurrentCell.Lstm,
    HiddenSize = 64,
    Bidirectional = true,          // a word's tag depends on both sides ("not ... good")
    Epochs = epochs,
    BatchSize = 32,
    Optimizer = new Adam { LearningRate = 3e-3 },
    ValidationFraction = 0.1,
    OnEpochEnd = s => Console.WriteLine($"  {s}"),
}).Fit(featurizer.Transform(train));
Console.WriteLine($"tagger trained in {sw.Elapsed.TotalSeconds:F1}s");

var scored = tagger.Transform(featurizer.Transform(test));
var tagMetrics = ml.MulticlassClassification.EvaluateSequenceTagging(scored, labelColumnName: "TagKeys");
Console.WriteLine($"tagging: {tagMetrics}");
foreach (var (tag, accuracy) in tagMetrics.PerTagAccuracy.OrderBy(p => p.Key)) Console.WriteLine($"  {tag,-7} {accuracy:F4}");

// PredictedLabel is a key vector (one key per word): MapKeyToValue gives the tag names.
var named = ml.Transforms.Conversion.MapKeyToValue("PredictedTags", "PredictedLabel").Fit(scored).Transform(scored);
var texts = named.GetColumn<string>("Text").Take(3).ToArray();
var predictedTags = named.GetColumn<string[]>("PredictedTags").Take(3).ToArray();
for (int i = 0; i < texts.Length; i++)
    Console.WriteLine("  " + string.Join(' ', texts[i].Split(' ').Zip(predictedTags[i], (w, t) => t == "O" ? w : $"{w}/{t}")));

tagger.Save(outPath);
using var reloaded = DeepTransformer.Load(outPath);
var before = scored.GetColumn<float[]>("Score").ToArray();
var after = reloaded.Transform(featurizer.Transform(test)).GetColumn<float[]>("Score").ToArray();
bool same = before.Zip(after).All(p => p.First.SequenceEqual(p.Second));
Console.WriteLine($"tagger written to {Path.GetFullPath(outPath)}; reloaded scores identical: {same}");
return same ? 0 : 1;

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : def; }
string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }

/// <summary>One review: its text, overall verdict and one tag per word.</summary>
internal sealed class Review
{
    public string Text { get; set; } = "";
    public bool Label { get; set; }
    public string Tags { get; set; } = "";
}

/// <summary>
/// Short product reviews from a seeded grammar: an optional opener, then one to three clauses
/// "the ASPECT is|was|seems|feels [not|never] [intensifier] OPINION", joined by "and" or "but". The verdict (Label) is
/// the last clause's opinion, flipped by a negation — what a reader takes from "..., but the battery is not good".
/// Tags: ASPECT on the aspect's words, POS / NEG on the opinion word (after negation), NOT on the negation, O elsewhere.
/// </summary>
internal static class Reviews
{
    private static readonly string[] Aspects =
    {
        "battery", "battery life", "screen", "display", "camera", "price", "delivery", "sound", "speaker", "keyboard", "case",
        "customer support", "app", "charger", "build quality", "touchpad", "fan", "packaging", "manual", "warranty",
    };
    private static readonly string[] Positive =
    {
        "good", "great", "excellent", "fine", "amazing", "solid", "fast", "bright", "sharp", "reliable", "comfortable", "clear",
        "quiet", "impressive", "decent", "fantastic", "helpful", "sturdy",
    };
    private static readonly string[] Negative =
    {
        "bad", "terrible", "awful", "poor", "slow", "weak", "noisy", "dim", "blurry", "flimsy", "overpriced", "disappointing",
        "unreliable", "useless", "mediocre", "cheap", "annoying", "fragile",
    };
    private static readonly string[] Openers = { "", "", "", "honestly", "i think", "overall", "to be fair", "after two weeks", "for the money", "well" };
    private static readonly string[] Verbs = { "is", "was", "seems", "feels" };
    private static readonly string[] Intensifiers = { "", "", "", "really", "very", "quite", "pretty", "extremely", "a bit", "surprisingly" };
    private static readonly string[] Negations = { "not", "not", "never" };

    public static List<Review> Generate(int count, int seed)
    {
        var rng = new Random(seed);
        var reviews = new List<Review>(count);
        for (int n = 0; n < count; n++)
        {
            var words = new List<string>();
            var tags = new List<string>();
            void Add(string phrase, string tag)
            {
                foreach (var w in phrase.Split(' ', StringSplitOptions.RemoveEmptyEntries)) { words.Add(w); tags.Add(tag); }
            }
            Add(Openers[rng.Next(Openers.Length)], "O");
            int clauses = 1 + rng.Next(3);
            bool verdict = false;
            for (int c = 0; c < clauses; c++)
            {
                if (c > 0) Add(rng.Next(2) == 0 ? "but" : "and", "O");
                Add("the", "O");
                Add(Aspects[rng.Next(Aspects.Length)], "ASPECT");
                Add(Verbs[rng.Next(Verbs.Length)], "O");
                bool negated = rng.Next(3) == 0;
                if (negated) Add(Negations[rng.Next(Negations.Length)], "NOT");
                Add(Intensifiers[rng.Next(Intensifiers.Length)], "O");
                bool positiveWord = rng.Next(2) == 0;
                verdict = positiveWord ^ negated;
                Add(positiveWord ? Positive[rng.Next(Positive.Length)] : Negative[rng.Next(Negative.Length)], verdict ? "POS" : "NEG");
            }
            reviews.Add(new Review { Text = string.Join(' ', words), Label = verdict, Tags = string.Join(' ', tags) });
        }
        return reviews;
    }
}
