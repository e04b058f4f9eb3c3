// The classic experiment on why deep nets were hard to train: a deep sigmoid MLP with a small random
// initialisation barely learns because its early layers' gradients vanish; the same depth with ReLU + He
// initialisation, or with batch norm, trains. Writes the diagnostics (CSV/JSON) and PNG plots.
//   dotnet run -c Release --project samples/VanishingGradients -- [--train 5000] [--epochs 5] [--depth 10] [--width 64] [--lr 0.02] [--out vanishing-gradients]
using Microsoft.ML;
using MLNetDeep.Activations;
using MLNetDeep.Datasets;
using MLNetDeep.Diagnostics;
using MLNetDeep.Initializers;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using MLNetDeep.Plotting;
using MLNetDeep.Training;

int trainRows = Arg("--train", 5000), epochs = Arg("--epochs", 5), depth = Arg("--depth", 10), width = Arg("--width", 64);
double lr = double.Parse(ArgS("--lr", "0.02"), System.Globalization.CultureInfo.InvariantCulture);
string outDir = ArgS("--out", "vanishing-gradients");

var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Source == "MLNetDeep" && e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) Console.WriteLine("  warning: " + e.Message); };
var key = ml.Transforms.Conversion.MapValueToKey("Label").Fit(FashionMnist.Load(ml, train: true, take: trainRows));
var train = key.Transform(FashionMnist.Load(ml, train: true, take: trainRows));
var test = key.Transform(FashionMnist.Load(ml, train: false, take: 2000));
Console.WriteLine($"Fashion-MNIST: {trainRows} training rows, 2000 test rows; {depth} hidden layers of {width}; SGD(lr {lr}, momentum 0.9), {epochs} epochs");

var runs = new (string Label, Activation Act, Initializer? Init, bool BatchNorm)[]
{
    ("sigmoid, N(0, 0.05) init", new Sigmoid(), new RandomNormal { Std = 0.05 }, false),
    ("sigmoid, N(0, 0.05) init, batch norm", new Sigmoid(), new RandomNormal { Std = 0.05 }, true),
    ("ReLU, He init", new Relu(), new HeNormal(), false),
};
var results = new List<(string Label, TrainingHistory History)>();
foreach (var (label, act, init, bn) in runs)
{
    var options = new CnnOptions
    {
        ImageShape = new ImageShape(1, 28, 28),
        Layers = new List<CnnLayer>(), // no convolutions: a plain deep MLP
        Head = new DenseHead { HiddenSizes = Enumerable.Repeat(width, depth).ToList(), Activation = act, BatchNorm = bn, Dropout = 0, InputDropout = 0 },
        Initializer = init,
        Optimizer = new Sgd { LearningRate = lr, Momentum = 0.9 },
        Epochs = epochs,
        BatchSize = 64,
        Seed = 1,
        Diagnostics = new DiagnosticsOptions(),
    };
    Console.WriteLine($"\n== {label}");
    using var model = ml.MulticlassClassification.Trainers.Cnn(options).Fit(train, test);
    var h = model.History;
    var d1 = h.Diagnostics[0];
    Console.WriteLine($"  test accuracy {h.Epochs[^1].ValidationMetrics["accuracy"]:F4}; epoch-1 gradient norm first layer {d1.Layers[0].GradientNorm:G3}, " +
                      $"last layer {d1.Layers[^1].GradientNorm:G3} (ratio {d1.Layers[0].GradientNorm / d1.Layers[^1].GradientNorm:G3}); " +
                      $"warnings: {h.Diagnostics.Sum(d => d.Warnings.Count)}");
    var slug = new string(label.Select(c => char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray()).Replace("--", "-").Trim('-');
    HistoryExport.WriteAll(h, Path.Combine(outDir, slug));
    TrainingPlots.SaveAll(h, Path.Combine(outDir, slug));
    results.Add((label, h));
}
var profile = TrainingPlots.SaveGradientProfile(results, Path.Combine(outDir, "gradient-profile.png"),
    title: $"Gradient norm by depth, epoch 1 ({depth} hidden layers)");
Console.WriteLine($"\nplots and CSV/JSON in {Path.GetFullPath(outDir)} (gradient profile: {profile})");

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : def; }
string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }
