// Train a CNN on Fashion-MNIST in an ML.NET pipeline, export it to ONNX, score the exported file with
// ONNX Runtime (no TorchSharp involved) and check it agrees with the trained transformer; then save the
// whole pipeline with mlContext.Model.Save, load it back and check it predicts the same.
//   dotnet run -c Release --project samples/OnnxExport -- [--train N] [--epochs E] [--out fashion-mnist-cnn.onnx]
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using MLNetDeep.Scoring;

int trainRows = Arg("--train", 10000), epochs = Arg("--epochs", 1);
string onnxPath = ArgS("--out", "fashion-mnist-cnn.onnx");
string zipPath = Path.ChangeExtension(onnxPath, ".zip");

var ml = new MLContext(seed: 1);
Console.WriteLine($"Training the reference CNN on {trainRows} Fashion-MNIST images for {epochs} epoch(s)...");
IDataView train = FashionMnist.Load(ml, train: true, take: trainRows);
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.Cnn(new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = epochs, BatchSize = 128 }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
var model = pipeline.Fit(train);
var cnn = (DeepTransformer)model.ElementAt(1);

// 1. Export. The graph reads the flattened feature vectors [N, 784] and outputs Score [N, 10] and PredictedLabel [N].
cnn.ExportToOnnx(onnxPath, new OnnxExportOptions { Opset = 17 });
Console.WriteLine($"exported {Path.GetFullPath(onnxPath)} ({new FileInfo(onnxPath).Length / 1024} KiB)");

// 2. Score the exported file with ONNX Runtime alone, one batch of 8 test images.
var test = FashionMnist.Read(train: false, take: 1000);
using var session = new InferenceSession(onnxPath);
var classNames = JsonSerializer.Deserialize<string[]>(session.ModelMetadata.CustomMetadataMap[OnnxNames.ClassNamesKey])!;
Console.WriteLine($"classes (from the ONNX metadata): {string.Join(", ", classNames)}");
var batch = test.Take(8).ToList();
var input = new DenseTensor<float>(batch.SelectMany(i => i.Features).ToArray(), new[] { batch.Count, FashionMnist.Pixels });
using (var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Features", input) }))
{
    var labels = results.First(r => r.Name == OnnxNames.PredictedLabel).AsTensor<string>().ToArray();
    var scores = results.First(r => r.Name == OnnxNames.Score).AsTensor<float>();
    for (int i = 0; i < batch.Count; i++)
        Console.WriteLine($"  true: {batch[i].Label,-12} ONNX Runtime: {labels[i],-12} p={scores[i, Array.IndexOf(classNames, labels[i])]:F3}");
}

// 3. Parity on 1000 test rows: ONNX Runtime vs the TorchSharp transformer.
var testView = ml.Data.LoadFromEnumerable(test);
var ours = model.Transform(testView).GetColumn<float[]>("Score").ToArray();
var all = new DenseTensor<float>(test.SelectMany(i => i.Features).ToArray(), new[] { test.Count, FashionMnist.Pixels });
float[] ort;
using (var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Features", all) }))
    ort = results.First(r => r.Name == OnnxNames.Score).AsTensor<float>().ToArray();
double maxDiff = ours.SelectMany(s => s).Zip(ort).Max(p => Math.Abs(p.First - p.Second));
Console.WriteLine($"max |Score(TorchSharp) - Score(ONNX Runtime)| over {test.Count} rows: {maxDiff:G3}");

// 4. The whole pipeline in an ML.NET model zip (the CNN is stored as ONNX), loaded back without TorchSharp.
ml.Model.Save(model, train.Schema, zipPath);
var loaded = new MLContext().Model.Load(zipPath, out _);
var before = model.Transform(testView).GetColumn<string>("PredictedLabel").ToArray();
var after = loaded.Transform(testView).GetColumn<string>("PredictedLabel").ToArray();
bool same = before.SequenceEqual(after);
Console.WriteLine($"ML.NET model zip {Path.GetFullPath(zipPath)}: reloaded predictions identical: {same}");
var metrics = ml.MulticlassClassification.Evaluate(loaded.Transform(testView)); // the loaded pipeline keys Label itself
Console.WriteLine($"reloaded pipeline test accuracy (1000 rows): {metrics.MicroAccuracy:F4}");
return same && maxDiff <= 1e-4 ? 0 : 1;

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : def; }
string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }
