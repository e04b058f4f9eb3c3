// A folder of images → ImageNet ResNet18 fine-tuned under a new head (two phases in one Fit) → Evaluate → Model.Save.
//
//   dotnet run -c Release --project samples/PretrainedImages -- [--images FOLDER] [--size 224] [--epochs 100]
//       [--fine-tune-epochs 10] [--trainable-blocks 4] [--fine-tune-rate 0.01] [--fine-tune-head-rate 0.1] [--out pretrained-images]
//
// FOLDER holds one sub-folder per class (FOLDER/cats/*.png, FOLDER/dogs/*.jpg, ...); 20% of each class is held out
// for the test figures. Without --images the sample makes such a folder from Debian's openclipart-png (5 classes of
// clip art, 60 drawings each, mixed sizes) and uses its train/test split.
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models;
using MLNetDeep.Models.Backbones;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Scoring;
using static Microsoft.ML.Transforms.Image.ImageResizingEstimator;

string? imagesFolder = ArgS("--images", null);
int size = Arg("--size", 224), headEpochs = Arg("--epochs", 100), fineTuneEpochs = Arg("--fine-tune-epochs", 10), trainableBlocks = Arg("--trainable-blocks", 4);
double fineTuneRate = double.Parse(ArgS("--fine-tune-rate", "0.01")!, CultureInfo.InvariantCulture);
double headRate = double.Parse(ArgS("--fine-tune-head-rate", "0.1")!, CultureInfo.InvariantCulture);
string outDir = ArgS("--out", "pretrained-images")!;
Directory.CreateDirectory(outDir);

// 1. The image files and their classes (the folder names).
var (trainFiles, testFiles) = imagesFolder is null ? MLNetDeep.Samples.Shared.ClipArtImages.Prepare(40, 20) : FromFolder(imagesFolder);
Console.WriteLine($"{trainFiles.Count} training and {testFiles.Count} test images of {trainFiles.Select(f => f.Label).Distinct().Count()} classes " +
                  $"({string.Join(", ", trainFiles.Select(f => f.Label).Distinct())})");

// 2. The pipeline: files → images → size × size → pixels in 0-1 (the backbone scales and centres them as ResNet18
//    was trained: × 255, RGB → BGR, minus the ImageNet mean image) → ResNet18 + a new head.
var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Source == "MLNetDeep" && e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info) Console.WriteLine("  " + e.RawMessage); };
var options = new CnnOptions
{
    ImageShape = new ImageShape(3, size, size),
    Backbone = Backbone.ResNet18(),                                 // from DnnImageModels/ (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18)
    Head = new DenseHead { HiddenSizes = new(), InputDropout = 0.2 }, // Keras' recipe: pooled features → dropout → a linear layer
    Epochs = headEpochs,                                            // phase 1: the backbone frozen, on its outputs computed once
    Optimizer = new MLNetDeep.Optimizers.Adam { LearningRate = 3e-3 },
    FineTune = new FineTuneOptions                                  // phase 2: the top four blocks too, at low rates
    {
        Epochs = fineTuneEpochs,
        TrainableBlocks = trainableBlocks,                          // 4 by default
        LearningRateMultiplier = fineTuneRate,                      // 0.01 (3e-5): Adam's first steps move every weight by about the rate
        HeadLearningRateMultiplier = headRate,                      // 0.1 (see docs/backbones.md, choosing the fine-tuning rate)
    },
    BatchSize = 32,
};
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageFile.ImagePath)))
    .Append(ml.Transforms.ResizeImages("Image", size, size, resizing: ResizingKind.Fill))
    .Append(ml.Transforms.ExtractPixels("Features", "Image", scaleImage: 1f / 255))
    .Append(ml.MulticlassClassification.Trainers.Cnn(options))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

var train = ml.Data.LoadFromEnumerable(trainFiles);
var test = ml.Data.LoadFromEnumerable(testFiles);
var sw = Stopwatch.StartNew();
var model = pipeline.Fit(train);
Console.WriteLine($"trained in {sw.Elapsed.TotalSeconds:F1} s");
var network = model.OfType<DeepTransformer>().Single();
foreach (var phase in network.History.Phases)
    Console.WriteLine($"  phase {phase.Name}: epochs {phase.FirstEpoch}-{phase.LastEpoch}, {phase.Description}; loss {network.History.Epochs[phase.LastEpoch - 1].TrainLoss:F4}" +
                      (phase.CacheSeconds > 0 ? $"; frozen outputs computed in {phase.CacheSeconds:F1} s" : ""));

// 3. Evaluate on the held-out images.
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
Console.WriteLine($"test accuracy {metrics.MicroAccuracy:F4} (macro {metrics.MacroAccuracy:F4}, log-loss {metrics.LogLoss:F4}) on {testFiles.Count} images");

// 4. Save: an ML.NET model zip (the network as ONNX inside: loading needs neither TorchSharp nor the ResNet18 package),
//    and MLNetDeep's own format (to continue training, e.g. WarmStartFrom with Transfer.FreezeBlocks).
var zip = Path.Combine(outDir, "model.zip");
ml.Model.Save(model, train.Schema, zip);
var own = Path.Combine(outDir, "resnet18-finetuned.mlnd");
network.Save(own);
var reloaded = new MLContext().Model.Load(zip, out _);
var again = new MLContext().MulticlassClassification.Evaluate(reloaded.Transform(test));
Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1e6:F1} MB) and {own} ({new FileInfo(own).Length / 1e6:F1} MB); " +
                  $"the reloaded ML.NET model: test accuracy {again.MicroAccuracy:F4}");
using (var csv = new StreamWriter(Path.Combine(outDir, "history.csv")))
{
    csv.WriteLine("epoch,phase,train_loss");
    foreach (var e in network.History.Epochs) csv.WriteLine(FormattableString.Invariant($"{e.Epoch},{e.Phase},{e.TrainLoss:R}"));
}

static (List<ImageFile> Train, List<ImageFile> Test) FromFolder(string folder)
{
    var train = new List<ImageFile>();
    var test = new List<ImageFile>();
    string[] extensions = { ".png", ".jpg", ".jpeg", ".bmp", ".gif" };
    foreach (var classFolder in Directory.GetDirectories(folder).OrderBy(d => d, StringComparer.Ordinal))
    {
        var files = Directory.GetFiles(classFolder, "*", SearchOption.AllDirectories)
            .Where(f => extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).OrderBy(f => f, StringComparer.Ordinal).ToArray();
        new Random(1).Shuffle(files);
        int nTest = Math.Max(1, files.Length / 5);
        var label = Path.GetFileName(classFolder);
        test.AddRange(files.Take(nTest).Select(f => new ImageFile { ImagePath = f, Label = label }));
        train.AddRange(files.Skip(nTest).Select(f => new ImageFile { ImagePath = f, Label = label }));
    }
    if (train.Count == 0) throw new ArgumentException($"No images in the class sub-folders of '{folder}'.");
    return (train, test);
}

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : def; }
string? ArgS(string name, string? def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }
