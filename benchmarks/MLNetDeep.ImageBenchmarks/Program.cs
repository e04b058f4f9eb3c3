// Transfer learning on a small real image set read from files, every route on each of several seeded splits:
//   --images clipart (default): 5 categories of Debian's openclipart-png, 40 training and 20 test files a class
//   --images fashion: 10 Fashion-MNIST classes written as 28x28 grey PNG files, 30 training and 100 test files a class
//   (a) ML.NET's documented route: LoadImages → ResizeImages(224) → ExtractPixels → DnnFeaturizeImage(ResNet18) →
//       AppendCacheCheckpoint → SdcaMaximumEntropy
//   (b) MLNetDeep's CNN from scratch (default layers, augmentation on)
//   (c) MLNetDeep with Backbone.ResNet18() frozen + a new head (phase "head" only, on cached features)
//   (d) the same, then fine-tuned: the top 4 blocks at 0.01 x the learning rate and the head at 0.1 x, 10 epochs
//       (the recipe was chosen on split 7 of the Fashion-MNIST set, not on the reported splits)
// Every route reads the same PNG files through LoadImages; each time is its whole pipeline Fit (decoding included).
//
//   dotnet run -c Release --project benchmarks/MLNetDeep.ImageBenchmarks -- transfer [--images clipart|fashion] [--split-seeds 1,2,3]
//       [--train N] [--test N] [--size 224] [--scratch-size 64] [--scratch-epochs 30] [--head-epochs 100] [--head-augment 0]
//       [--fine-tune-epochs 10] [--trainable-blocks 4] [--fine-tune-rate 0.01] [--fine-tune-head-rate 0.1] [--fine-tune-bn 0]
//       [--fine-tune-augment 0] [--routes abcd] [--confusion]
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Augmentation;
using MLNetDeep.Datasets;
using MLNetDeep.Models;
using MLNetDeep.Models.Backbones;
using MLNetDeep.Models.Cnn;
using static Microsoft.ML.Transforms.Image.ImageResizingEstimator;

if (args.Length == 0 || args[0] != "transfer")
{
    Console.WriteLine("usage: dotnet run -c Release --project benchmarks/MLNetDeep.ImageBenchmarks -- transfer [--images clipart|fashion] [--split-seeds 1,2,3] " +
                      "[--train N] [--test N] [--size 224] [--scratch-size 64] [--scratch-epochs 30] [--head-epochs 100] [--head-augment 0] " +
                      "[--fine-tune-epochs 10] [--trainable-blocks 4] [--fine-tune-rate 0.01] [--fine-tune-head-rate 0.1] [--fine-tune-bn 0] " +
                      "[--fine-tune-augment 0] [--routes abcd] [--confusion]");
    return args.Length == 0 ? 1 : 0;
}
// --images clipart: 5 clip-art classes, 40 + 20 files a class; --images fashion: 10 Fashion-MNIST classes as 28x28 PNG files, 30 + 100 a class
string images = ArgS("--images", "clipart");
if (images is not ("clipart" or "fashion")) { Console.Error.WriteLine($"--images must be clipart or fashion. Received: {images}"); return 1; }
bool fashion = images == "fashion";
int perClass = Arg("--train", fashion ? 30 : 40), testPerClass = Arg("--test", fashion ? 100 : 20), size = Arg("--size", 224), scratchSize = Arg("--scratch-size", fashion ? 28 : 64);
int scratchEpochs = Arg("--scratch-epochs", 30), headEpochs = Arg("--head-epochs", 100), fineTuneEpochs = Arg("--fine-tune-epochs", 10), trainable = Arg("--trainable-blocks", 4);
double fineTuneRate = double.Parse(ArgS("--fine-tune-rate", "0.01"), CultureInfo.InvariantCulture);
double fineTuneHeadRate = double.Parse(ArgS("--fine-tune-head-rate", "0.1"), CultureInfo.InvariantCulture);
string routes = ArgS("--routes", "abcd");
bool fineTuneAugment = Arg("--fine-tune-augment", 0) != 0, headAugment = Arg("--head-augment", 0) != 0, fineTuneBatchNorm = Arg("--fine-tune-bn", 0) != 0;
// Every route runs on each split (--split-seeds): with 100 test images one split's accuracies differ by noise alone
// (standard error about 0.045), so the figures and the targets are the means over the splits.
int[] splitSeeds = ArgS("--split-seeds", "1,2,3").Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
MLNetDeep.Runtime.TorchRuntime.EnsureLoaded();
Line("transfer_threads", TorchSharp.torch.get_num_threads(), "F0");
Console.WriteLine($"transfer_images: {images}");
Line("transfer_splits", splitSeeds.Length, "F0");
var ml = new MLContext(seed: 1);
var results = new Dictionary<string, List<(double Accuracy, double Seconds)>>();

// The images as each route reads them: decoded from the files, resized (Fill: the whole image, stretched), pixels.
IEstimator<ITransformer> Pixels(int side, float scale) => ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageFile.ImagePath)))
    .Append(ml.Transforms.ResizeImages("Image", side, side, resizing: ResizingKind.Fill))
    .Append(ml.Transforms.ExtractPixels("Features", "Image", scaleImage: scale))
    .Append(ml.Transforms.DropColumns("Image"));

// flips, shifts, small rotations and zooms (the uncovered border repeats the edge: white around drawings, black around Fashion-MNIST)
var augmentation = new ImageAugmentation
{
    HorizontalFlipProbability = 0.5, MaxShiftPixels = size / 10, MaxRotationDegrees = 10, MaxScale = 0.1, FillMode = AugmentationFillMode.Nearest,
};
CnnOptions Backbone(FineTuneOptions? fineTune) => new()
{
    Augmentation = headAugment ? augmentation : null,
    ImageShape = new ImageShape(3, size, size),
    Backbone = MLNetDeep.Models.Backbones.Backbone.ResNet18(),
    Head = new DenseHead { HiddenSizes = new(), InputDropout = 0.2 },
    // the head trains on the cached features, so its epochs are cheap: many of them, at 3e-3
    Epochs = headEpochs, BatchSize = 32, Seed = 1, Optimizer = new MLNetDeep.Optimizers.Adam { LearningRate = 3e-3 },
    FineTune = fineTune,
};

foreach (var splitSeed in splitSeeds)
{
    var (trainFiles, testFiles) = fashion
        ? MLNetDeep.Samples.Shared.FashionMnistImages.Prepare(perClass, testPerClass, seed: splitSeed)
        : MLNetDeep.Samples.Shared.ClipArtImages.Prepare(perClass, testPerClass, seed: splitSeed);
    string split = $"transfer_split{splitSeed}";
    Line($"{split}_train_images", trainFiles.Count, "F0");
    Line($"{split}_test_images", testFiles.Count, "F0");
    Line($"{split}_classes", trainFiles.Select(f => f.Label).Distinct().Count(), "F0");
    IDataView trainFilesView = ml.Data.LoadFromEnumerable(trainFiles), testFilesView = ml.Data.LoadFromEnumerable(testFiles);

    void Run(string name, Func<IEstimator<ITransformer>> pipeline)
    {
        if (!routes.Contains(name, StringComparison.Ordinal)) return; // route not asked for (--routes)
        var sw = Stopwatch.StartNew();
        var model = pipeline().Fit(trainFilesView);
        double seconds = sw.Elapsed.TotalSeconds;
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(testFilesView));
        if (args.Contains("--confusion")) Console.Error.WriteLine($"split {splitSeed}, route {name}:\n{metrics.ConfusionMatrix.GetFormattedConfusionTable()}");
        Line($"{split}_{name}_accuracy", metrics.MicroAccuracy, "F4");
        Line($"{split}_{name}_seconds", seconds, "F1");
        // Training loss at the start and end of each phase (a fine-tuning rate that is too high shows as a jump at its start).
        // A one-phase route (the scratch CNN) has no phases: its whole run is one span.
        if ((model as IEnumerable<ITransformer>)?.OfType<MLNetDeep.Scoring.DeepTransformer>().FirstOrDefault()?.History is { Epochs.Count: > 0 } history)
            foreach (var (label, first, last) in history.Phases.Count > 0
                         ? history.Phases.Select(p => ($"_{p.Name.Replace('-', '_')}", p.FirstEpoch, p.LastEpoch))
                         : new[] { ("", 1, history.Epochs.Count) })
            {
                Line($"{split}_{name}{label}_first_epoch_loss", history.Epochs[first - 1].TrainLoss, "F4");
                Line($"{split}_{name}{label}_last_epoch_loss", history.Epochs[last - 1].TrainLoss, "F4");
            }
        (model as IDisposable)?.Dispose();
        (results.TryGetValue(name, out var list) ? list : results[name] = new()).Add((metrics.MicroAccuracy, seconds));
    }

    // (a) ML.NET's featurizer route: DnnFeaturizeImage takes ExtractPixels' 0-255 values; the cache checkpoint keeps SDCA's
    // passes from decoding and featurizing every image again
    Run("a", () => Pixels(224, 1f)
        .Append(ml.Transforms.DnnFeaturizeImage("Featurized", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Features"))
        .AppendCacheCheckpoint(ml)
        .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(featureColumnName: "Featurized")));
    // (b) the CNN from scratch, with augmentation
    Run("b", () => Pixels(scratchSize, 1f / 255).Append(ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
    {
        ImageShape = new ImageShape(3, scratchSize, scratchSize), Epochs = scratchEpochs, BatchSize = 32, Seed = 1,
        Augmentation = new ImageAugmentation { HorizontalFlipProbability = 0.5, MaxShiftPixels = scratchSize / 10 },
    })));
    // (c) frozen backbone + head; (d) then fine-tuned
    Run("c", () => Pixels(size, 1f / 255).Append(ml.MulticlassClassification.Trainers.Cnn(Backbone(null))));
    Run("d", () => Pixels(size, 1f / 255).Append(ml.MulticlassClassification.Trainers.Cnn(Backbone(new FineTuneOptions
    {
        Epochs = fineTuneEpochs, TrainableBlocks = trainable, LearningRateMultiplier = fineTuneRate, HeadLearningRateMultiplier = fineTuneHeadRate,
        UpdateBatchNormStatistics = fineTuneBatchNorm,
        Augmentation = fineTuneAugment ? augmentation : null,
    }))));
}

// Means over the splits; a difference of two routes is taken split by split (the same images), with its standard error.
double Mean(string r, Func<(double Accuracy, double Seconds), double> f) => results.TryGetValue(r, out var l) ? l.Average(f) : double.NaN;
foreach (var r in "abcd".Where(r => results.ContainsKey(r.ToString())).Select(r => r.ToString()))
{
    Line($"transfer_{r}_accuracy", Mean(r, x => x.Accuracy), "F4");
    Line($"transfer_{r}_seconds", Mean(r, x => x.Seconds), "F1");
}
(double Mean, double StandardError) Difference(string x, string y)
{
    if (!results.ContainsKey(x) || !results.ContainsKey(y)) return (double.NaN, double.NaN);
    var diffs = results[x].Zip(results[y], (p, q) => p.Accuracy - q.Accuracy).ToArray();
    double mean = diffs.Average();
    double se = diffs.Length > 1 ? Math.Sqrt(diffs.Sum(v => (v - mean) * (v - mean)) / (diffs.Length - 1) / diffs.Length) : double.NaN;
    return (mean, se);
}
foreach (var (x, y) in new[] { ("d", "a"), ("c", "a"), ("d", "c") })
{
    var (mean, se) = Difference(x, y);
    Line($"transfer_{x}_minus_{y}_accuracy", mean, "F4");
    Line($"transfer_{x}_minus_{y}_accuracy_se", se, "F4");
}
var dMinusA = Difference("d", "a");
var cMinusA = Difference("c", "a");
Line("transfer_c_over_a_seconds", Mean("c", x => x.Seconds) / Mean("a", x => x.Seconds), "F3");
Console.WriteLine($"targets (means over {splitSeeds.Length} splits): (d) >= (a) + 0.05: {(dMinusA.Mean >= 0.05 ? "met" : "not met")}; " +
                  $"(c) >= (a): {(cMinusA.Mean >= 0 ? "met" : "not met")}; " +
                  $"seconds (c) <= 2 x (a): {(Mean("c", x => x.Seconds) <= 2 * Mean("a", x => x.Seconds) ? "met" : "not met")}");
return 0;

string ArgS(string key, string def) { int i = Array.IndexOf(args, key); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }
int Arg(string key, int def) { int i = Array.IndexOf(args, key); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : def; }
static void Line(string name, double value, string format) => Console.WriteLine($"{name}: {value.ToString(format, CultureInfo.InvariantCulture)}");
