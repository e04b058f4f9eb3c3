using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Onnx;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// Whole-pipeline ONNX export (ConvertPipelineToOnnx) of the two pipelines: MapValueToKey → reference CNN →
/// MapKeyToValue on Fashion-MNIST, and TokenizeIntoCharactersAsKeys → MapKeyToValue → MapValueToKey → GRU → MapKeyToValue
/// on English and German words (Debian's wamerican and wngerman). For each: export time, file size, ONNX Runtime rows/s on
/// the raw input columns (the CNN graph in batches, the text graph one row per run, as it requires) against the ML.NET
/// pipeline's batched Transform rows/s (pipeline_onnx_infer_ratio = ORT / ML.NET), and the largest Score difference.
///   dotnet run -c Release --project benchmarks/MLNetDeep.Benchmarks -- pipeline-onnx [--train N] [--rows N] [--words N] [--batch B] [--repeats R]
/// </summary>
public sealed class PipelineOnnxBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "pipeline-onnx";
    /// <inheritdoc />
    public string Description => "whole-pipeline ONNX export (CNN and character GRU pipelines): export time, size, ORT on raw inputs vs ML.NET Transform (pipeline_onnx_infer_ratio)";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        int trainRows = Report.Arg(args, "--train", 2000), rows = Report.Arg(args, "--rows", 2000), words = Report.Arg(args, "--words", 1000);
        int batch = Report.Arg(args, "--batch", 256), repeats = Report.Arg(args, "--repeats", 3);
        var ml = new MLContext(seed: 1);

        // 1. MapValueToKey → reference CNN → MapKeyToValue.
        var train = FashionMnist.Load(ml, train: true, take: trainRows);
        var cnn = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
            {
                ImageShape = new ImageShape(1, 28, 28), Epochs = 1, BatchSize = 128, ScoringBatchSize = batch, Device = Runtime.ComputeDevice.Cpu,
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(train);
        var images = FashionMnist.Read(train: false, take: rows);
        var pixels = images.SelectMany(i => i.Features).ToArray();
        Measure("cnn", ml, cnn, ml.Data.LoadFromEnumerable(images), rows, repeats, (session, output) =>
        {
            var result = new float[rows * 10];
            for (int start = 0; start < rows; start += batch)
            {
                int n = Math.Min(batch, rows - start);
                var input = new DenseTensor<float>(pixels.AsMemory(start * 784, n * 784), new[] { n, 784 });
                using var outputs = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Features", input) }, new[] { output, "PredictedLabel" });
                outputs[0].AsTensor<float>().ToArray().CopyTo(result, start * 10);
            }
            return result;
        });

        // 2. Characters as keys → GRU → MapKeyToValue, on real words (raw text in, language names out).
        var english = Words("/usr/share/dict/american-english", words, "english");
        var german = Words("/usr/share/dict/ngerman", words, "german");
        var all = english.Concat(german).ToList();
        var text = ml.Data.LoadFromEnumerable(all);
        var gru = ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Chars", "Text", useMarkerCharacters: false)
            .Append(ml.Transforms.Conversion.MapKeyToValue("Chars"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Tokens", "Chars"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.Gru(new TokenSequence(16), hiddenSize: 32, featureColumnName: "Tokens", epochs: 2, batchSize: 32, learningRate: 1e-2))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(text);
        Measure("text", ml, gru, text, all.Count, repeats, (session, output) =>
        {
            var result = new float[all.Count * 2];
            for (int r = 0; r < all.Count; r++)
            {
                var input = new DenseTensor<string>(new[] { all[r].Text }, new[] { 1, 1 });
                using var outputs = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Text", input) }, new[] { output, "PredictedLabel" });
                outputs[0].AsTensor<float>().ToArray().CopyTo(result, r * 2);
            }
            return result;
        });
        return 0;
    }

    private static void Measure(string prefix, MLContext ml, ITransformer model, IDataView test, int rows, int repeats,
        Func<InferenceSession, string, float[]> runOrt)
    {
        var sw = Stopwatch.StartNew();
        var exported = ml.Model.ConvertPipelineToOnnx(model, test);
        Report.Line($"pipeline_onnx_{prefix}_export_seconds", sw.Elapsed.TotalSeconds, "F3");
        Report.Line($"pipeline_onnx_{prefix}_model_kib", exported.Length / 1024.0, "F1");

        float[] MLNet()
        {
            // One pass reading the outputs ORT computes (Score and the PredictedLabel text).
            var scored = model.Transform(test);
            var score = scored.Schema["Score"];
            var label = scored.Schema["PredictedLabel"];
            using var cursor = scored.GetRowCursor(new[] { score, label });
            var getScore = cursor.GetGetter<VBuffer<float>>(score);
            var getLabel = cursor.GetGetter<ReadOnlyMemory<char>>(label);
            var result = new List<float>();
            VBuffer<float> s = default;
            ReadOnlyMemory<char> l = default;
            while (cursor.MoveNext())
            {
                getScore(ref s);
                getLabel(ref l);
                result.AddRange(s.DenseValues());
            }
            return result.ToArray();
        }
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(exported.ToArray(), options);
        var ours = MLNet();
        var ort = runOrt(session, "Score");
        Report.Line($"pipeline_onnx_{prefix}_max_abs_diff", ours.Zip(ort).Max(p => Math.Abs(p.First - p.Second)), "G3");

        double Best(Action run)
        {
            double best = double.MaxValue;
            for (int i = 0; i < repeats; i++)
            {
                var t = Stopwatch.StartNew();
                run();
                best = Math.Min(best, t.Elapsed.TotalSeconds);
            }
            return rows / best;
        }
        double mlnet = Best(() => MLNet()), onnx = Best(() => runOrt(session, "Score"));
        Report.Line($"pipeline_onnx_{prefix}_infer_rows_per_s_mlnet", mlnet, "F0");
        Report.Line($"pipeline_onnx_{prefix}_infer_rows_per_s_ort", onnx, "F0");
        Report.Line($"pipeline_onnx_{prefix}_infer_ratio", onnx / mlnet, "F3");
        Report.Line($"pipeline_onnx_{prefix}_one_row_per_run", exported.OneRowPerRun ? 1 : 0, "F0");
    }

    private sealed class WordRow
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private static List<WordRow> Words(string path, int n, string label)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} is missing: install Debian's wamerican and wngerman (bash scripts/setup.sh does).", path);
        var all = File.ReadLines(path).Where(w => w.Length is >= 3 and <= 10 && w.All(c => char.IsLetter(c) && char.IsLower(c))).Distinct().ToList();
        int stride = Math.Max(1, all.Count / n);
        return all.Where((_, i) => i % stride == 0).Take(n).Select(w => new WordRow { Text = w, Label = label }).ToList();
    }
}
