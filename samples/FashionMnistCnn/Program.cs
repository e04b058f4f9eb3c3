// The main job: train a CNN on Fashion-MNIST through an ordinary ML.NET pipeline, print test metrics,
// save the model, reload it and check it predicts the same.
//   dotnet run -c Release --project samples/FashionMnistCnn -- [--train N] [--epochs E] [--out model.mlnd]
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;

int trainRows = Arg("--train", 60000), epochs = Arg("--epochs", 3);
string outPath = ArgS("--out", "fashion-mnist-cnn.mlnd");

var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Source == "MLNetDeep" && e.Kind is Microsoft.ML.Runtime.ChannelMessageKind.Info or Microsoft.ML.Runtime.ChannelMessageKind.Warning) Console.WriteLine(e.RawMessage); };

Console.WriteLine($"Fashion-MNIST: {trainRows} training images, 10000 test images, {epochs} epochs");
IDataView train = FashionMnist.Load(ml, train: true, take: trainRows);
IDataView test = FashionMnist.Load(ml, train: false);

var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
    {
        ImageShape = new ImageShape(1, 28, 28),
        Epochs = epochs,
        BatchSize = 128,
        Optimizer = new Adam { LearningRate = 1e-3 },
        ValidationFraction = 0.05,
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

// The CNN is the middle of the chain: save it in MLNetDeep's format, reload, and compare predictions.
var cnn = model.GetDeepTransformer();
cnn.Save(outPath);
using var reloaded = DeepTransformer.Load(outPath);
var keyed = model.ElementAt(0).Transform(test);
var a = cnn.Transform(keyed).GetColumn<float[]>("Score").Take(500).ToArray();
var b = reloaded.Transform(keyed).GetColumn<float[]>("Score").Take(500).ToArray();
bool same = a.Zip(b).All(p => p.First.SequenceEqual(p.Second));
Console.WriteLine($"model written to {Path.GetFullPath(outPath)} ({new FileInfo(outPath).Length / 1024} KiB); reloaded scores identical: {same}");

var engine = ml.Model.CreatePredictionEngine<FashionMnistImage, Prediction>(model);
var first = FashionMnist.Read(train: false, take: 3);
foreach (var img in first)
    Console.WriteLine($"  true: {img.Label,-12} predicted: {engine.Predict(img).PredictedLabel}");
return same ? 0 : 1;

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : def; }
string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }

internal sealed class Prediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = Array.Empty<float>();
}
