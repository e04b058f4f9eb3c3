// Grapheme-to-phoneme conversion on CMUdict (Debian's pocketsphinx-en-us): spell a word, get its pronunciation.
// A bidirectional-LSTM encoder reads the letters, an LSTM decoder with Luong attention writes the phonemes.
// Trains with the plain TorchSharp loop (the ML.NET estimator comes next), prints test metrics and a few words,
// draws the attention of one word, saves the model and exports it to ONNX (encoder + one decoder step).
//
//   dotnet run -c Release --project samples/Seq2Seq -- [--train WORDS] [--epochs E] [--images DIR]
using System.Globalization;
using MLNetDeep.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Onnx;
using MLNetDeep.Plotting;

int Arg(string name, int fallback) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
string images = Array.IndexOf(args, "--images") is int at and >= 0 && at + 1 < args.Length ? args[at + 1] : "seq2seq-images";
int trainWords = Arg("--train", 20000), epochs = Arg("--epochs", 4);

var train = CmuDict.Read(CmuDictSplit.Train, take: trainWords)
    .Select(e => new Seq2SeqExample(CmuDict.LetterIds(e.Word), CmuDict.PhonemeIds(e.Phonemes))).ToList();
var test = CmuDict.Read(CmuDictSplit.Test, take: 2000, variants: CmuDictVariants.First);

var architecture = new Seq2SeqArchitecture
{
    Input = new TokenSequenceLayout { VocabularySize = CmuDict.Letters.Length },              // letters: ids 1..27
    Encoder = new RecurrentEncoder { Cell = RecurrentCell.Lstm, HiddenSize = 128, Bidirectional = true, EmbeddingSize = 64 },
    Decoder = new RecurrentDecoder { Cell = RecurrentCell.Lstm, HiddenSize = 128, EmbeddingSize = 64, Attention = AttentionKind.LuongGeneral },
    TargetVocabularySize = CmuDict.Phonemes.Count,                                              // phonemes: ids 1..39
    MaxOutputLength = 32,
};
TorchSharp.torch.random.manual_seed(1);
var network = (Seq2SeqNetwork)architecture.Build(CmuDict.Phonemes.Count, null);
Console.WriteLine($"Training on {train.Count} pronunciations of {trainWords} words, {epochs} epochs...");
Seq2SeqLoop.Train(network, train, new Seq2SeqLoopOptions
{
    Epochs = epochs, BatchSize = 128, LearningRate = 3e-3, Seed = 1,
    OnEpoch = (e, loss) => Console.WriteLine($"  epoch {e + 1}: loss {loss:F4}"),
});

var sources = test.Select(e => CmuDict.LetterIds(e.Word)).ToList();
var references = test.Select(e => (IReadOnlyList<IReadOnlyList<int>>)e.Alternatives.Select(a => (IReadOnlyList<int>)CmuDict.PhonemeIds(a)).ToList()).ToList();
foreach (var (name, options) in new[] { ("greedy", new Seq2SeqDecodeOptions()), ("beam 5", new Seq2SeqDecodeOptions { BeamWidth = 5, LengthNormalization = LengthNormalization.Gnmt }) })
{
    var predicted = Seq2SeqLoop.Decode(network, sources, options);
    var m = Seq2SeqMetrics.Compute(predicted.Select(p => (IReadOnlyList<int>)p.Tokens).ToList(), references);
    Console.WriteLine($"{name,-7} on {test.Count} test words: phoneme error rate {m.TokenErrorRate:P2}, word error rate {1 - m.ExactMatch:P2}, BLEU {m.Bleu:F4}");
}

var words = new[] { "knight", "photograph", "seq", "tensor", "pipeline" };
var decoded = Seq2SeqLoop.Decode(network, words.Select(CmuDict.LetterIds).ToList(), new Seq2SeqDecodeOptions { BeamWidth = 5, ReturnAttention = true });
for (int i = 0; i < words.Length; i++)
    Console.WriteLine($"  {words[i],-12} → {CmuDict.PhonemeString(decoded[i].Tokens),-24} (log-probability {decoded[i].LogProbability:F3})");

Directory.CreateDirectory(images);
var heat = Seq2SeqPlots.SaveAttention(Path.Combine(images, "seq2seq-attention.png"),
    words[1].Select(c => c.ToString()).ToList(), decoded[1].Tokens.Select(t => CmuDict.Phonemes[t - 1]).Append("</s>").ToList(),
    decoded[1].Attention!, $"Attention of '{words[1]}' → {CmuDict.PhonemeString(decoded[1].Tokens)}");
var shapes = Seq2SeqPlots.SaveShapes(Path.Combine(images, "seq2seq-shapes.png"));
Console.WriteLine($"Pictures: {heat}, {shapes}");

Seq2SeqModelFile.Save(network, "g2p.mlnd");
Seq2SeqOnnx.Export(network, "g2p-encoder.onnx", "g2p-decoder-step.onnx");
Console.WriteLine("Saved g2p.mlnd, g2p-encoder.onnx and g2p-decoder-step.onnx");
