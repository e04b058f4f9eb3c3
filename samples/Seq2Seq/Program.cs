// Grapheme-to-phoneme conversion on CMUdict (Debian's pocketsphinx-en-us): spell a word, get its pronunciation.
// An ML.NET pipeline: the word → characters as keys, the pronunciation → phonemes as keys, the seq2seq trainer
// (bidirectional-LSTM encoder, LSTM decoder with Luong attention, early stopping on the validation token error rate),
// and MapKeyToValue back to phoneme text. Prints test metrics (greedy and beam search), a few words through a
// PredictionEngine, draws the attention of one word, saves the model and exports it to ONNX (encoder + one decoder step).
//
//   dotnet run -c Release --project samples/Seq2Seq -- [--train WORDS] [--epochs E] [--images DIR]
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.EarlyStopping;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Optimizers;
using MLNetDeep.Plotting;
using MLNetDeep.Scoring;
using MLNetDeep.Training;

int Arg(string name, int fallback) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
string images = Array.IndexOf(args, "--images") is int at and >= 0 && at + 1 < args.Length ? args[at + 1] : "seq2seq-images";
int trainWords = Arg("--train", 20000), epochs = Arg("--epochs", 4);

var ml = new MLContext(seed: 1);
IDataView train = CmuDict.Load(ml, CmuDictSplit.Train, take: trainWords);                            // columns Word, Phonemes
IDataView validation = CmuDict.Load(ml, CmuDictSplit.Validation, take: 500, variants: CmuDictVariants.First);
var testWords = CmuDict.Read(CmuDictSplit.Test, take: 2000, variants: CmuDictVariants.First);

// The word → its characters as keys; MapKeyToValue + MapValueToKey make the keys compact (27 graphemes instead of the
// character tokenizer's 65,535). The pronunciation → phoneme tokens → keys. With keyData the key sets are fixed by the
// dictionary's inventories (CmuDict.Featurize builds exactly this chain).
var featurize = ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Letters", "Word", useMarkerCharacters: false)
    .Append(ml.Transforms.Conversion.MapKeyToValue("Letters"))
    .Append(ml.Transforms.Conversion.MapValueToKey("Letters", keyData: CmuDict.LetterKeys(ml)))
    .Append(ml.Transforms.Text.TokenizeIntoWords("Label", "Phonemes"))
    .Append(ml.Transforms.Conversion.MapValueToKey("Label", keyData: CmuDict.PhonemeKeys(ml)));
var featurizer = featurize.Fit(train);

var options = new Seq2SeqOptions
{
    FeatureColumnName = "Letters",                                                                  // source tokens; "Label" holds the target tokens
    Encoder = new RecurrentEncoder { HiddenSize = 128, Bidirectional = true, EmbeddingSize = 64 },
    Decoder = new RecurrentDecoder { HiddenSize = 128, EmbeddingSize = 64, Attention = AttentionKind.LuongGeneral },
    MaxOutputLength = 32,
    Epochs = epochs,
    BatchSize = 128,
    Optimizer = new Adam { LearningRate = 3e-3 },
    ValidationData = featurizer.Transform(validation),
    EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.ValidationMetric("token_error_rate"), Patience = 2 },
    OnEpochEnd = e => Console.WriteLine($"  epoch {e.Epoch}: loss {e.TrainLoss:F4}, validation phoneme error rate {e.ValidationMetrics["token_error_rate"]:P2}, " +
                                        $"word accuracy {e.ValidationMetrics["exact_match"]:P2} ({e.Duration.TotalSeconds:F0} s)"),
};
var pipeline = featurize
    .Append(ml.MulticlassClassification.Trainers.Seq2Seq(options))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedPhonemes", "PredictedLabel"));
Console.WriteLine($"Training on {trainWords} words, at most {epochs} epochs...");
var model = pipeline.Fit(train);
var g2p = model.OfType<DeepTransformer>().Single();
Console.WriteLine($"  {g2p.History.StopReason}");

// Test metrics: every pronunciation of a word counts as right (multi-reference), greedy and beam search.
var references = testWords.Select(e => (IReadOnlyList<IReadOnlyList<int>>)e.Alternatives.Select(a => (IReadOnlyList<int>)CmuDict.PhonemeIds(a)).ToList()).ToList();
var testFeatures = featurizer.Transform(ml.Data.LoadFromEnumerable(testWords));
using var beam = g2p.WithDecoding(new Seq2SeqDecodeOptions { BeamWidth = 5, LengthNormalization = LengthNormalization.Gnmt });
foreach (var (name, scorer) in new[] { ("greedy", g2p), ("beam 5", beam) })
{
    var predicted = scorer.Transform(testFeatures).GetColumn<uint[]>("PredictedLabel").Select(p => (IReadOnlyList<int>)p.Select(k => (int)k).ToList()).ToList();
    var m = Seq2SeqMetrics.Compute(predicted, references);
    Console.WriteLine($"{name,-7} on {testWords.Count} test words: phoneme error rate {m.TokenErrorRate:P2}, word error rate {1 - m.ExactMatch:P2}, BLEU {m.Bleu:F4}");
}
var firstOnly = ml.MulticlassClassification.EvaluateSeq2Seq(g2p.Transform(testFeatures));
Console.WriteLine($"greedy against the first pronunciation only: phoneme error rate {firstOnly.TokenErrorRate:P2}, word error rate {1 - firstOnly.ExactMatch:P2}");

// A few words, one at a time, through a PredictionEngine on the whole pipeline.
var engine = ml.Model.CreatePredictionEngine<WordInput, Pronunciation>(model);
var words = new[] { "knight", "photograph", "seq", "tensor", "pipeline" };
foreach (var word in words)
{
    var p = engine.Predict(new WordInput { Word = word });
    Console.WriteLine($"  {word,-12} → {string.Join(' ', p.PredictedPhonemes),-24} (log-probability {p.Score:F3})");
}

// The attention of one word, from the trained network.
var network = g2p.Seq2SeqNetworkOf();
var decoded = Seq2SeqLoop.Decode(network, new[] { CmuDict.LetterIds(words[1]) }, new Seq2SeqDecodeOptions { BeamWidth = 5, ReturnAttention = true })[0];
Directory.CreateDirectory(images);
var heat = Seq2SeqPlots.SaveAttention(Path.Combine(images, "seq2seq-attention.png"),
    words[1].Select(c => c.ToString()).ToList(), decoded.Tokens.Select(t => CmuDict.Phonemes[t - 1]).Append("</s>").ToList(),
    decoded.Attention!, $"Attention of '{words[1]}' → {CmuDict.PhonemeString(decoded.Tokens)}");
var shapes = Seq2SeqPlots.SaveShapes(Path.Combine(images, "seq2seq-shapes.png"));
Console.WriteLine($"Pictures: {heat}, {shapes}");

// MLNetDeep's own format keeps the decoding and trains on (WarmStartFrom); ONNX: the encoder and one decoder step.
g2p.Save("g2p.mlnd");
using var loaded = DeepTransformer.Load("g2p.mlnd");
var again = loaded.Transform(featurizer.Transform(ml.Data.LoadFromEnumerable(new[] { new G2PEntry { Word = words[0] } }))).GetColumn<uint[]>("PredictedLabel").Single();
Console.WriteLine($"Saved g2p.mlnd; loaded back, '{words[0]}' → {CmuDict.PhonemeString(again.Select(k => (int)k))}");
g2p.ExportSeq2SeqToOnnx("g2p-encoder.onnx", "g2p-decoder-step.onnx");
Console.WriteLine("Exported g2p-encoder.onnx and g2p-decoder-step.onnx");

/// <summary>A word to pronounce (Phonemes stays empty: the pipeline's label column is only read in training).</summary>
internal sealed class WordInput
{
    public string Word { get; set; } = "";
    public string Phonemes { get; set; } = "";
}

/// <summary>The pipeline's outputs for one word.</summary>
internal sealed class Pronunciation
{
    public string[] PredictedPhonemes { get; set; } = Array.Empty<string>();
    public float Score { get; set; }
}
