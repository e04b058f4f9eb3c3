// ImageNet ResNet18 (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18: ResNet18.onnx and ResNetPreprocess.onnx)
// imported as TorchSharp networks: the blocks it splits into, ImageNet features of Fashion-MNIST images computed once
// by the frozen network (its output is cached per row), and an ML.NET linear classifier trained on those features.
//
//   dotnet run -c Release --project samples/PretrainedResNet18 -- [--train 300] [--test 200] [--out pretrained]
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.OnnxImport;
using MLNetDeep.Plotting;
using static TorchSharp.torch;

int trainRows = Arg("--train", 300), testRows = Arg("--test", 200);
string outDir = ArgS("--out", "pretrained");
var models = Path.Combine(AppContext.BaseDirectory, "DnnImageModels");

// 1. Import. The preprocessing graph (RGB → BGR, minus the ImageNet mean image) is a network too.
using var preprocess = OnnxNetwork.Load(Path.Combine(models, "ResNetPrepOnnx", "ResNetPreprocess.onnx"));
using var resnet = OnnxNetwork.Load(Path.Combine(models, "ResNet18Onnx", "ResNet18.onnx"));
preprocess.eval();
resnet.eval();
Console.WriteLine($"ResNet18 ({resnet.ProducerName} {resnet.ProducerVersion}, opset {resnet.Opset}): input {resnet.InputNames[0]} " +
                  $"[{string.Join(", ", resnet.InputShapes[0]!.Select(d => d?.ToString() ?? "?"))}], output {resnet.OutputNames[0]}, " +
                  $"{resnet.parameters().Sum(p => p.numel()):N0} parameters");
foreach (var block in resnet.Blocks) Console.WriteLine("  " + block.Description);
var png = OnnxImportPlots.SaveBlocks(resnet, Path.Combine(outDir, "resnet18-blocks.png"), "ResNet18 (CNTK export) imported: parameters per block");
Console.WriteLine($"plot: {Path.GetFullPath(png)}");

// 2. Features: every image once through the frozen network (no_grad, eval mode), in batches.
float[][] Features(List<FashionMnistImage> images)
{
    var result = new List<float[]>();
    using var _ = no_grad();
    foreach (var chunk in images.Chunk(16))
    {
        using var scope = NewDisposeScope();
        var grey = tensor(chunk.SelectMany(i => i.Features).ToArray(), new long[] { chunk.Length, 1, 28, 28 }) * 255f;
        var rgb = nn.functional.interpolate(grey, new long[] { 224, 224 }, mode: InterpolationMode.Bilinear, align_corners: false).expand(chunk.Length, 3, 224, 224).contiguous();
        var features = resnet.forward(preprocess.forward(rgb)).flatten(1);          // [n, 512]
        for (int i = 0; i < chunk.Length; i++) result.Add(features[i].data<float>().ToArray());
    }
    return result.ToArray();
}
var train = FashionMnist.Read(train: true, take: trainRows);
var test = FashionMnist.Read(train: false, take: testRows);
var sw = Stopwatch.StartNew();
var trainFeatures = Features(train);
var testFeatures = Features(test);
Console.WriteLine($"features of {trainRows + testRows} images in {sw.Elapsed.TotalSeconds:F1}s ({(trainRows + testRows) / sw.Elapsed.TotalSeconds:F1} images/s, {get_num_threads()} threads)");

// 3. A linear classifier on the cached features, in an ordinary ML.NET pipeline.
var ml = new MLContext(seed: 1);
IDataView View(List<FashionMnistImage> images, float[][] features) =>
    ml.Data.LoadFromEnumerable(images.Select((img, i) => new Row { Features = features[i], Label = img.Label }));
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.NormalizeMeanVariance("Features"))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy());
var model = pipeline.Fit(View(train, trainFeatures));
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(View(test, testFeatures)));
Console.WriteLine($"linear probe on frozen ImageNet features, {trainRows} training images: test accuracy {metrics.MicroAccuracy:F4} on {testRows} images");

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : def; }
string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }

/// <summary>One image's ResNet18 features and its class name.</summary>
internal sealed class Row
{
    [VectorType(512)] public float[] Features { get; set; } = Array.Empty<float>();
    public string Label { get; set; } = "";
}
