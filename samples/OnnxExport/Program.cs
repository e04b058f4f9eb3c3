// Train a CNN on Fashion-MNIST in an ML.NET pipeline, export it to ONNX, score the exported file with
// ONNX Runtime (no TorchSharp involved) and check it agrees with the trained transformer; then save the
// whole pipeline with mlContext.Model.Save, load it back and check it predicts the same. Then a text pipeline — raw
// words → characters as keys → a GRU → the language's name — exported whole with ConvertPipelineToOnnx and scored by
// ONNX Runtime alone on the raw strings (English and German words from Debian's wamerican and wngerman).
//   dotnet run -c Release --project samples/OnnxExport -- [--train N] [--epochs E] [--out fashion-mnist-cnn.onnx] [--words N]
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Models.Sequence;
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

// 5. A whole text pipeline as one ONNX graph: raw text in, language name out. ML.NET's own ConvertToOnnx would stop at
//    the GRU and write a graph without it; ConvertPipelineToOnnx exports ML.NET's steps and the network together.
int words = Arg("--words", 1500);
var english = Words("/usr/share/dict/american-english", "english", words);
var german = Words("/usr/share/dict/ngerman", "german", words);
var wordRows = english.Take(words * 4 / 5).Concat(german.Take(words * 4 / 5)).ToList();
var heldOut = english.Skip(words * 4 / 5).Concat(german.Skip(words * 4 / 5)).ToList();
var textPipeline = ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Chars", "Text", useMarkerCharacters: false)
    .Append(ml.Transforms.Conversion.MapKeyToValue("Chars"))
    .Append(ml.Transforms.Conversion.MapValueToKey("Tokens", "Chars"))
    .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
    .Append(ml.MulticlassClassification.Trainers.Gru(new TokenSequence(16), hiddenSize: 32,
        featureColumnName: "Tokens", epochs: 4, batchSize: 32, learningRate: 1e-2))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
Console.WriteLine($"\nTraining a character GRU on {wordRows.Count} English and German words...");
var textModel = textPipeline.Fit(ml.Data.LoadFromEnumerable(wordRows));
var heldOutView = ml.Data.LoadFromEnumerable(heldOut);
Console.WriteLine($"held-out accuracy ({heldOut.Count} words): {ml.MulticlassClassification.Evaluate(textModel.Transform(heldOutView)).MicroAccuracy:F4}");
var textPath = Path.ChangeExtension(onnxPath, ".language.onnx");
var textOnnx = ml.Model.ConvertPipelineToOnnx(textModel, heldOutView, textPath);
Console.WriteLine($"exported the whole pipeline to {Path.GetFullPath(textPath)} ({textOnnx.Length / 1024} KiB)");
foreach (var i in textOnnx.Inputs) Console.WriteLine($"  input  {i.Name}: {i.ElementType} [{string.Join(", ", i.Shape)}]");
foreach (var output in textOnnx.Outputs) Console.WriteLine($"  output {output.Name}: {output.ElementType} [{string.Join(", ", output.Shape)}]");

// ONNX Runtime alone, on the raw strings, one word per run (the words differ in length).
var mlnetLabels = textModel.Transform(heldOutView).GetColumn<string>("PredictedLabel").ToArray();
int agree = 0;
using (var textSession = new InferenceSession(textPath))
{
    for (int i = 0; i < heldOut.Count; i++)
    {
        var text = new DenseTensor<string>(new[] { heldOut[i].Text }, new[] { 1, 1 });
        using var results = textSession.Run(new[] { NamedOnnxValue.CreateFromTensor("Text", text) });
        var label = results.First(r => r.Name == "PredictedLabel").AsTensor<string>()[0, 0];
        if (label == mlnetLabels[i]) agree++;
        if (i % (heldOut.Count / 4) == 0)
            Console.WriteLine($"  {heldOut[i].Text,-12} ONNX Runtime: {label,-8} (true: {heldOut[i].Label})");
    }
}
Console.WriteLine($"ONNX Runtime on raw text agrees with the ML.NET pipeline on {agree} of {heldOut.Count} words");
return same && maxDiff <= 1e-4 && agree == heldOut.Count ? 0 : 1;

static List<WordRow> Words(string path, string label, int n)
{
    if (!File.Exists(path)) throw new FileNotFoundException($"{path} is missing: install Debian's wamerican and wngerman (bash scripts/setup.sh does).", path);
    var all = File.ReadLines(path).Where(w => w.Length is >= 3 and <= 10 && w.All(c => char.IsLetter(c) && char.IsLower(c))).Distinct().ToList();
    int stride = Math.Max(1, all.Count / n);
    return all.Where((_, i) => i % stride == 0).Take(n).Select(w => new WordRow { Text = w, Label = label }).ToList();
}

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : def; }
string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }

/// <summary>A word and its language.</summary>
internal sealed class WordRow
{
    public string Text { get; set; } = "";
    public string Label { get; set; } = "";
}
