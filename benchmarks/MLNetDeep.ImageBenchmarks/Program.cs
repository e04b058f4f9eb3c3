// Transfer learning on a small real image set read from files (clip art of 5 categories, openclipart-png), in one run:
//   (a) ML.NET's documented route: LoadImages → ResizeImages(224) → ExtractPixels → DnnFeaturizeImage(ResNet18) →
//       AppendCacheCheckpoint → SdcaMaximumEntropy
//   (b) MLNetDeep's CNN from scratch (default layers, augmentation on)
//   (c) MLNetDeep with Backbone.ResNet18() frozen + a new head (phase "head" only)
//   (d) the same, then fine-tuned (FineTune: the top blocks at a tenth of the learning rate)
// Every route reads the same PNG files through LoadImages; each time is its whole pipeline Fit (decoding included).
//
//   dotnet run -c Release --project benchmarks/MLNetDeep.ImageBenchmarks -- transfer [--train 40] [--test 20] [--size 224]
//       [--scratch-size 64] [--scratch-epochs 30] [--head-epochs 100] [--fine-tune-epochs 5] [--trainable-blocks 2]
//       [--fine-tune-rate 0.1] [--routes abcd]
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
    Console.WriteLine("usage: dotnet run -c Release --project benchmarks/MLNetDeep.ImageBenchmarks -- transfer [--train 40] [--test 20] [--size 224] " +
                      "[--scratch-size 64] [--scratch-epochs 30] [--head-epochs 100] [--fine-tune-epochs 5] [--trainable-blocks 2] [--fine-tune-rate 0.1] [--routes abcd]");
    return args.Length == 0 ? 1 : 0;
}
int perClass = Arg("--train", 40), testPerClass = Arg("--test", 20), size = Arg("--size", 224), scratchSize = Arg("--scratch-size", 64);
int scratchEpochs = Arg("--scratch-epochs", 30), headEpochs = Arg("--head-epochs", 100), fineTuneEpochs = Arg("--fine-tune-epochs", 5), trainable = Arg("--trainable-blocks", 2);
double fineTuneRate = double.Parse(ArgS("--fine-tune-rate", "0.1"), CultureInfo.InvariantCulture);
string routes = ArgS("--routes", "abcd");
MLNetDeep.Runtime.TorchRuntime.EnsureLoaded();
Line("transfer_threads", TorchSharp.torch.get_num_threads(), "F0");

var (trainFiles, testFiles) = MLNetDeep.Samples.Shared.ClipArtImages.Prepare(perClass, testPerClass);
Line("transfer_train_images", trainFiles.Count, "F0");
Line("transfer_test_images", testFiles.Count, "F0");
Line("transfer_classes", trainFiles.Select(f => f.Label).Distinct().Count(), "F0");
var ml = new MLContext(seed: 1);
IDataView trainFilesView = ml.Data.LoadFromEnumerable(trainFiles), testFilesView = ml.Data.LoadFromEnumerable(testFiles);

// The images as each route reads them: decoded from the files, resized (Fill: the whole drawing, stretched), pixels.
IEstimator<ITransformer> Pixels(int side, float scale) => ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageFile.ImagePath)))
    .Append(ml.Transforms.ResizeImages("Image", side, side, resizing: ResizingKind.Fill))
    .Append(ml.Transforms.ExtractPixels("Features", "Image", scaleImage: scale))
    .Append(ml.Transforms.DropColumns("Image"));

(double Accuracy, double Seconds) Run(string name, IEstimator<ITransformer> pipeline)
{
    if (!routes.Contains(name, StringComparison.Ordinal)) return (double.NaN, double.NaN); // route not asked for (--routes)
    var sw = Stopwatch.StartNew();
    var model = pipeline.Fit(trainFilesView);
    double seconds = sw.Elapsed.TotalSeconds;
    double accuracy = ml.MulticlassClassification.Evaluate(model.Transform(testFilesView)).MicroAccuracy;
    Line($"transfer_{name}_accuracy", accuracy, "F4");
    Line($"transfer_{name}_seconds", seconds, "F1");
    // Training loss at the start and end of each phase (a fine-tuning rate that is too high shows as a jump at its start).
    if ((model as IEnumerable<ITransformer>)?.OfType<MLNetDeep.Scoring.DeepTransformer>().FirstOrDefault() is { } network)
        foreach (var phase in network.History.Phases)
        {
            Line($"transfer_{name}_{phase.Name.Replace('-', '_')}_first_epoch_loss", network.History.Epochs[phase.FirstEpoch - 1].TrainLoss, "F4");
            Line($"transfer_{name}_{phase.Name.Replace('-', '_')}_last_epoch_loss", network.History.Epochs[phase.LastEpoch - 1].TrainLoss, "F4");
        }
    (model as IDisposable)?.Dispose();
    return (accuracy, seconds);
}

// (a) ML.NET's featurizer route: DnnFeaturizeImage takes ExtractPixels' 0-255 values; the cache checkpoint keeps SDCA's
// passes from decoding and featurizing every image again
var a = Run("a", Pixels(224, 1f)
    .Append(ml.Transforms.DnnFeaturizeImage("Featurized", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Features"))
    .AppendCacheCheckpoint(ml)
    .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(featureColumnName: "Featurized")));

// (b) the CNN from scratch, with augmentation
var b = Run("b", Pixels(scratchSize, 1f / 255).Append(ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
{
    ImageShape = new ImageShape(3, scratchSize, scratchSize), Epochs = scratchEpochs, BatchSize = 32, Seed = 1,
    Augmentation = new ImageAugmentation { HorizontalFlipProbability = 0.5, MaxShiftPixels = scratchSize / 10 },
})));

CnnOptions Backbone(FineTuneOptions? fineTune) => new()
{
    ImageShape = new ImageShape(3, size, size),
    Backbone = MLNetDeep.Models.Backbones.Backbone.ResNet18(),
    Head = new DenseHead { HiddenSizes = new(), InputDropout = 0.2 },
    // the head trains on the cached features, so its epochs are cheap: many of them, at 3e-3
    Epochs = headEpochs, BatchSize = 32, Seed = 1, Optimizer = new MLNetDeep.Optimizers.Adam { LearningRate = 3e-3 },
    FineTune = fineTune,
};
// (c) frozen backbone + head; (d) then fine-tuned
var c = Run("c", Pixels(size, 1f / 255).Append(ml.MulticlassClassification.Trainers.Cnn(Backbone(null))));
var d = Run("d", Pixels(size, 1f / 255).Append(ml.MulticlassClassification.Trainers.Cnn(Backbone(new FineTuneOptions
{
    Epochs = fineTuneEpochs, TrainableBlocks = trainable, LearningRateMultiplier = fineTuneRate,
}))));

Line("transfer_d_minus_a_accuracy", d.Accuracy - a.Accuracy, "F4");
Line("transfer_c_minus_a_accuracy", c.Accuracy - a.Accuracy, "F4");
Line("transfer_c_over_a_seconds", c.Seconds / a.Seconds, "F3");
Console.WriteLine($"targets: (d) >= (a) + 0.05: {(d.Accuracy >= a.Accuracy + 0.05 ? "met" : "not met")}; (c) >= (a): {(c.Accuracy >= a.Accuracy ? "met" : "not met")}; " +
                  $"seconds (c) <= 2 x (a): {(c.Seconds <= 2 * a.Seconds ? "met" : "not met")}");
return 0;

string ArgS(string key, string def) { int i = Array.IndexOf(args, key); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }
int Arg(string key, int def) { int i = Array.IndexOf(args, key); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : def; }
static void Line(string name, double value, string format) => Console.WriteLine($"{name}: {value.ToString(format, CultureInfo.InvariantCulture)}");
