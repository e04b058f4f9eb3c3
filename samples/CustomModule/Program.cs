// Bring your own TorchSharp module: train a network you wrote yourself inside an ML.NET pipeline with MLNetDeep's
// training engine (validation, early stopping, a schedule), evaluate it, score with a PredictionEngine, save and load
// it by its registered name; then the same network as an nn.Sequential of standard layers, exported to ONNX (checked
// against ONNX Runtime) and saved inside an ML.NET model zip.
//   dotnet run -c Release --project samples/CustomModule -- [--train N] [--epochs E] [--out DIR]
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using MLNetDeep.Datasets;
using MLNetDeep.EarlyStopping;
using MLNetDeep.Models.Custom;
using MLNetDeep.Onnx;
using Adam = MLNetDeep.Optimizers.Adam;
using MLNetDeep.Plotting;
using MLNetDeep.Schedules;
using MLNetDeep.Scoring;
using MLNetDeep.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

int trainRows = Arg("--train", 10000), epochs = Arg("--epochs", 3);
string outDir = ArgS("--out", "custom-module-output");
Directory.CreateDirectory(outDir);

// 1. Register the factories by name, once at start-up (also before loading a saved model).
//    The factory gets the input shape and the output size the task needs (classes for multiclass, 1 for binary/regression).
CustomModules.Register<SmallCnnOptions>("small-cnn", (context, options) => new SmallCnn(options, context.OutputSize));
CustomModules.Register("small-cnn-sequential", context => SmallCnn.AsSequential(context.OutputSize));

var ml = new MLContext(seed: 1);
IDataView train = FashionMnist.Load(ml, train: true, take: trainRows);
IDataView test = FashionMnist.Load(ml, train: false);

// 2. Train the hand-written class with the whole toolkit: validation split, early stopping, cosine schedule, progress.
ml.Log += (_, e) => { if (e.Source == "MLNetDeep" && e.Kind is Microsoft.ML.Runtime.ChannelMessageKind.Info or Microsoft.ML.Runtime.ChannelMessageKind.Warning) Console.WriteLine("  " + e.RawMessage); };
var options = new CustomModuleOptions
{
    ModuleName = "small-cnn",
    InputShape = new[] { 1, 28, 28 },                       // each 784-value row becomes [1, 28, 28]; the module sees [B, 1, 28, 28]
    ModuleOptions = new SmallCnnOptions { Filters = 16, Dropout = 0.25 },
    Epochs = epochs,
    BatchSize = 128,
    Optimizer = new Adam { LearningRate = 3e-3 },
    LearningRateSchedule = new CosineDecay { DecaySteps = epochs * (long)Math.Ceiling(trainRows * 0.9 / 128) },
    ValidationFraction = 0.1,
    EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.ValidationLoss, Patience = 2 },
};
Console.WriteLine($"Training SmallCnn (a Module<Tensor, Tensor> written in this file) on {trainRows} images for up to {epochs} epochs...");
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.CustomModule(options))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
var model = pipeline.Fit(train);
var trained = model.GetDeepTransformer();
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
Console.WriteLine($"test accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:F4} ({trained.History.StopReason}, {trained.History.TotalDuration.TotalSeconds:F0} s)");
Console.WriteLine($"plot: {TrainingPlots.SaveLoss(trained.History, Path.Combine(outDir, "custom-module-loss.png"), "SmallCnn on Fashion-MNIST")}");

// 3. One image at a time, as an application would.
var engine = ml.Model.CreatePredictionEngine<FashionMnistImage, Prediction>(model);
foreach (var image in FashionMnist.Read(train: false, take: 3))
    Console.WriteLine($"  true {image.Label,-12} predicted {engine.Predict(image).PredictedLabel}");

// 4. Save and load in MLNetDeep's format: the file holds the name "small-cnn", the module options and the weights;
//    loading calls the registered factory and restores the weights (unregistered name: a clear error saying what to register).
var path = Path.Combine(outDir, "small-cnn.mlnd");
trained.Save(path);
using var loaded = DeepTransformer.Load(path);
var keyed = model.ElementAt(0).Transform(test);
bool same = trained.Transform(keyed).GetColumn<float[]>("Score").SelectMany(s => s)
    .SequenceEqual(loaded.Transform(keyed).GetColumn<float[]>("Score").SelectMany(s => s));
Console.WriteLine($"saved {path}; loaded model scores identically: {same}");

// 5. ONNX needs a module it can read: a class's forward is code, so it is refused with the module's path and type...
try { trained.ExportToOnnx(Path.Combine(outDir, "small-cnn.onnx")); }
catch (OnnxExportException e) { Console.WriteLine($"ONNX export of the class: {e.Message[..Math.Min(e.Message.Length, 120)]}..."); }

// ...while the same network as an nn.Sequential of standard layers exports, and ONNX Runtime agrees with TorchSharp.
var sequential = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.CustomModule("small-cnn-sequential", new[] { 1, 28, 28 }, epochs: 1, batchSize: 128, learningRate: 3e-3))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
    .Fit(train);
var onnxPath = Path.Combine(outDir, "small-cnn-sequential.onnx");
sequential.GetDeepTransformer().ExportToOnnx(onnxPath);
var rows = FashionMnist.Read(train: false, take: 500);
using (var session = new InferenceSession(onnxPath))
{
    var input = new DenseTensor(rows.SelectMany(r => r.Features).ToArray(), new[] { rows.Count, FashionMnist.Pixels });
    using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Features", input) });
    var ort = results.First(r => r.Name == OnnxNames.Score).AsTensor<float>().ToArray();
    var ours = sequential.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<float[]>("Score").SelectMany(s => s);
    Console.WriteLine($"exported {onnxPath}; max |TorchSharp - ONNX Runtime| over {rows.Count} rows: {ours.Zip(ort).Max(p => Math.Abs(p.First - p.Second)):G3}");
}

// 6. The whole pipeline in an ML.NET model zip (the network stored as ONNX), loaded back and scored by ONNX Runtime.
var zip = Path.Combine(outDir, "small-cnn-sequential.zip");
ml.Model.Save(sequential, train.Schema, zip);
var fromZip = new MLContext().Model.Load(zip, out _);
var agree = sequential.Transform(test).GetColumn<string>("PredictedLabel").Zip(fromZip.Transform(test).GetColumn<string>("PredictedLabel")).Count(p => p.First == p.Second);
Console.WriteLine($"saved {zip}; the loaded ML.NET model predicts the same label on {agree} of 10000 test images");

int Arg(string name, int fallback) => int.TryParse(ArgS(name, ""), out var v) ? v : fallback;
string ArgS(string name, string fallback) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }

/// <summary>The module's own options: saved with the model and handed back to the factory when it is loaded.</summary>
public sealed class SmallCnnOptions
{
    public int Filters { get; set; } = 16;
    public double Dropout { get; set; } = 0.25;
}

/// <summary>A small CNN written by hand: conv → batch norm → ReLU → pool, twice, then dropout and a linear layer.</summary>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d norm1;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d norm2;
    private readonly Dropout dropout;
    private readonly Linear output;

    public SmallCnn(SmallCnnOptions options, int outputs) : base(nameof(SmallCnn))
    {
        int f = options.Filters;
        conv1 = nn.Conv2d(1, f, 3, padding: 1);
        norm1 = nn.BatchNorm2d(f);
        conv2 = nn.Conv2d(f, 2 * f, 3, padding: 1);
        norm2 = nn.BatchNorm2d(2 * f);
        dropout = nn.Dropout(options.Dropout);
        output = nn.Linear(2 * f * 7 * 7, outputs);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = F.max_pool2d(F.relu(norm1.call(conv1.call(x))), 2); // [B, f, 14, 14]
        h = F.max_pool2d(F.relu(norm2.call(conv2.call(h))), 2);      // [B, 2f, 7, 7]
        return output.call(dropout.call(h.flatten(1))).MoveToOuterDisposeScope(); // [B, outputs]
    }

    /// <summary>The same network as an nn.Sequential of standard layers: what the ONNX exporter can write.</summary>
    public static Sequential AsSequential(int outputs, int f = 16) => nn.Sequential(
        ("conv1", nn.Conv2d(1, f, 3, padding: 1)), ("norm1", nn.BatchNorm2d(f)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(f, 2 * f, 3, padding: 1)), ("norm2", nn.BatchNorm2d(2 * f)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()), ("dropout", nn.Dropout(0.25)), ("output", nn.Linear(2 * f * 7 * 7, outputs)));
}

/// <summary>What the PredictionEngine returns.</summary>
public sealed class Prediction
{
    public string PredictedLabel { get; set; } = "";
}
