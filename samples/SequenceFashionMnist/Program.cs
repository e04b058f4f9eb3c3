// Row-sequential Fashion-MNIST: an LSTM (or GRU) reads each 28x28 image as 28 steps of 28 pixels, top row first,
// through an ordinary ML.NET pipeline; prints test metrics, saves the model, reloads it and checks it predicts the same.
//   dotnet run -c Release --project samples/SequenceFashionMnist -- [--train N] [--epochs E] [--cell lstm|gru|rnn]
//       [--hidden H] [--layers L] [--bidirectional] [--out model.mlnd]
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;

int trainRows = Arg("--train", 60000), epochs = Arg("--epochs", 2), hidden = Arg("--hidden", 128), layers = Arg("--layers", 1);
var cell = ArgS("--cell", "lstm") switch { "gru" => RecurrentCell.Gru, "rnn" => RecurrentCell.Rnn, _ => RecurrentCell.Lstm };
bool bidirectional = args.Contains("--bidirectional");
string outPath = ArgS("--out", "fashion-mnist-sequence.mlnd");

var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Source == "MLNetDeep" && e.Kind is Microsoft.ML.Runtime.ChannelMessageKind.Info or Microsoft.ML.Runtime.ChannelMessageKind.Warning) Console.WriteLine(e.RawMessage); };

Console.WriteLine($"Row-sequential Fashion-MNIST: {trainRows} training images, 10000 test images, {epochs} epochs, " +
                  $"{cell} x{layers}, hidden {hidden}{(bidirectional ? ", bidirectional" : "")}");
IDataView train = FashionMnist.Load(ml, train: true, take: trainRows);
IDataView test = FashionMnist.Load(ml, train: false);

// The 784-pixel Features vector is 28 steps x 28 values: NumericSequence(28) is all the trainer needs to know.
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.Sequence(new SequenceOptions
    {
        Input = new NumericSequence(FeaturesPerStep: 28),
        Cell = cell,
        HiddenSize = hidden,
        Layers = layers,
        Bidirectional = bidirectional,
        Summary = SequenceSummary.LastState,     // the state after the bottom row (both ends when bidirectional)
        Epochs = epochs,
        BatchSize = 128,
        Optimizer = new Adam { LearningRate = 2e-3 },
        ValidationFraction = 0.05,               // per-epoch val_loss / val_accuracy in the log
        // GradientClipNorm = 1.0 is the default for recurrent nets.
    }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

var sw = Stopwatch.StartNew();
var model = pipeline.Fit(train);
Console.WriteLine($"trained in {sw.Elapsed.TotalSeconds:F1}s");

var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
Console.WriteLine($"test accuracy (micro): {metrics.MicroAccuracy:F4}");
Console.WriteLine($"test accuracy (macro): {metrics.MacroAccuracy:F4}");
Console.WriteLine($"test log-loss:         {metrics.LogLoss:F4}");
Console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());

// Save the recurrent model in MLNetDeep's format, reload it and compare predictions.
var rnn = model.GetDeepTransformer();
rnn.Save(outPath);
using var reloaded = DeepTransformer.Load(outPath);
var keyed = ((IEnumerable<ITransformer>)model).First().Transform(test);
var a = rnn.Transform(keyed).GetColumn<float[]>("Score").Take(500).ToArray();
var b = reloaded.Transform(keyed).GetColumn<float[]>("Score").Take(500).ToArray();
bool same = a.Zip(b).All(p => p.First.SequenceEqual(p.Second));
Console.WriteLine($"model written to {Path.GetFullPath(outPath)} ({new FileInfo(outPath).Length / 1024} KiB); reloaded scores identical: {same}");

var engine = ml.Model.CreatePredictionEngine<FashionMnistImage, Prediction>(model);
foreach (var img in FashionMnist.Read(train: false, take: 3))
    Console.WriteLine($"  true: {img.Label,-12} predicted: {engine.Predict(img).PredictedLabel}");
return same ? 0 : 1;

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : def; }
string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }

internal sealed class Prediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = Array.Empty<float>();
}
