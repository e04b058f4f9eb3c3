using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetDeep.Datasets;
using MLNetDeep.Inference;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using MLNetDeep.Scoring;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// ONNX export of the reference CNN (Fashion-MNIST) and the two scoring engines. Parity: the largest absolute difference
/// between the LibTorch engine's Score and bare ONNX Runtime's on the exported file (onnx_max_abs_diff), and between the two
/// engines (onnx_engine_max_abs_diff). Batched throughput (rows/s): Transform with the LibTorch engine (onnx_ours), with the
/// ONNX Runtime engine (onnx_engine), bare ONNX Runtime on the exported file and on the engine's own graph (Score only), the
/// bare TorchSharp forward, and the ML.NET zip loaded back (ML.NET's OnnxTransformer, one ONNX Runtime call per row).
/// Ratios: onnx_infer_ratio = LibTorch engine / bare ORT; onnx_engine_infer_ratio = ONNX Runtime engine / bare ORT on the
/// same graph, batches and threads. PredictionEngine single-row latency (median and p99, µs) for both engines, bare ORT on
/// one row, and the loaded zip.
///   dotnet run -c Release --project benchmarks/MLNetDeep.Benchmarks -- onnx [--train N] [--rows N] [--batch B] [--repeats R] [--predictions P]
/// </summary>
public sealed class OnnxBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "onnx";
    /// <inheritdoc />
    public string Description => "ONNX export of the reference CNN: parity, batched scoring with both engines vs bare ONNX Runtime (onnx_infer_ratio, onnx_engine_infer_ratio), PredictionEngine latency";

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    /// <inheritdoc />
    public int Run(string[] args)
    {
        int trainRows = Report.Arg(args, "--train", 2000), rows = Report.Arg(args, "--rows", 2000);
        int batch = Report.Arg(args, "--batch", 256), repeats = Report.Arg(args, "--repeats", 3), predictions = Report.Arg(args, "--predictions", 2000);
        var ml = new MLContext(seed: 1);

        // The reference CNN (CnnOptions' default layers and head), trained briefly: throughput and parity don't need accuracy.
        var train = FashionMnist.Load(ml, train: true, take: trainRows);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
        {
            ImageShape = new ImageShape(1, 28, 28), Epochs = 1, BatchSize = 128, ScoringBatchSize = batch,
            Device = Runtime.ComputeDevice.Cpu,
        }));
        var sw = Stopwatch.StartNew();
        var model = pipeline.Fit(train);
        var cnn = (DeepTransformer)model.LastTransformer;
        cnn.ScoringEngine = ScoringEngine.LibTorch;
        Report.Line("onnx_train_seconds", sw.Elapsed.TotalSeconds, "F1");

        sw.Restart();
        using var onnxStream = new MemoryStream();
        cnn.ExportToOnnx(onnxStream, new OnnxExportOptions());
        var onnxBytes = onnxStream.ToArray();
        Report.Line("onnx_export_seconds", sw.Elapsed.TotalSeconds, "F3");
        Report.Line("onnx_model_kib", onnxBytes.Length / 1024.0, "F1");

        // A second copy of the model, scored by the ONNX Runtime engine (switching one model back and forth would rebuild its session).
        using var copy = new MemoryStream();
        cnn.Save(copy);
        copy.Position = 0;
        using var engineModel = DeepTransformer.Load(copy);
        sw.Restart();
        engineModel.ScoringEngine = ScoringEngine.OnnxRuntime;
        Report.Line("onnx_engine_start_seconds", sw.Elapsed.TotalSeconds, "F3");
        int threads = TorchSharp.torch.get_num_threads(); // the engine's intra-op threads; bare ORT gets the same
        Report.Line("onnx_threads", threads, "F0");

        var images = FashionMnist.Read(train: false, take: rows);
        var testView = ml.Data.LoadFromEnumerable(images);
        var keyed = model.First().Transform(testView); // MapValueToKey only; the CNN reads Features
        var pixels = images.SelectMany(i => i.Features).ToArray();

        SessionOptions Options() => new() { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var fileOptions = Options();
        using var fileSession = new InferenceSession(onnxBytes, fileOptions);
        using var graphOptions = Options();
        using var graphSession = new InferenceSession(Onnx.Engine.OnnxRuntimeScoringRoute.ScoreGraph(engineModel), graphOptions);

        float[] Scores(DeepTransformer m) => m.Transform(keyed).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        var result = new float[rows * 10];
        // Bare ONNX Runtime as fast as it goes: tensors over the pixel array and a preallocated output, no copies.
        float[] Ort(InferenceSession session, string input)
        {
            using var run = new RunOptions();
            for (int start = 0; start < rows; start += batch)
            {
                int n = Math.Min(batch, rows - start);
                using var x = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, pixels.AsMemory(start * 784, n * 784), new long[] { n, 784 });
                using var y = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, result.AsMemory(start * 10, n * 10), new long[] { n, 10 });
                session.Run(run, new[] { input }, new[] { x }, new[] { OnnxNames.Score }, new[] { y });
            }
            return result;
        }

        // The bare TorchSharp forward pass on ready tensors (no IDataView), to show where the LibTorch engine's time goes.
        void TorchForward()
        {
            using var _ = TorchSharp.torch.no_grad();
            for (int start = 0; start < rows; start += batch)
            {
                int n = Math.Min(batch, rows - start);
                using var scope = TorchSharp.torch.NewDisposeScope();
                var x = TorchSharp.torch.tensor(pixels.AsSpan(start * 784, n * 784).ToArray(), new long[] { n, 1, 28, 28 });
                TorchSharp.torch.nn.functional.softmax(cnn.Network.forward(x), 1).data<float>().ToArray();
            }
        }

        // The pipeline through mlContext.Model.Save / Load: ML.NET's OnnxTransformer, one ONNX Runtime call per row.
        using var zip = new MemoryStream();
        ml.Model.Save(model, testView.Schema, zip);
        zip.Position = 0;
        var loaded = new MLContext().Model.Load(zip, out _);
        float[] Zip() => loaded.Transform(testView).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();

        var ours = Scores(cnn);
        var engine = Scores(engineModel);
        var ort = (float[])Ort(fileSession, "Features").Clone();
        var zipped = Zip();
        double MaxDiff(float[] a, float[] b) => a.Zip(b).Max(p => Math.Abs(p.First - p.Second));
        double maxDiff = MaxDiff(ours, ort), engineDiff = MaxDiff(ours, engine);
        Report.Line("onnx_max_abs_diff", maxDiff, "G3");
        Report.Line("onnx_engine_max_abs_diff", engineDiff, "G3");
        Report.Line("onnx_zip_max_abs_diff", MaxDiff(ours, zipped), "G3");

        // Best of `repeats` timed passes each, alternating so all see the same machine load.
        var best = new Dictionary<string, double>();
        void Time(string name, Action pass)
        {
            var t = Stopwatch.StartNew();
            pass();
            best[name] = Math.Min(best.GetValueOrDefault(name, double.MaxValue), t.Elapsed.TotalSeconds);
        }
        for (int r = 0; r < repeats; r++)
        {
            Time("ours", () => Scores(cnn));
            Time("engine", () => Scores(engineModel));
            Time("ort", () => Ort(fileSession, "Features"));
            Time("ort_graph", () => Ort(graphSession, Onnx.Engine.OnnxRuntimeBackend.InputName));
            Time("torch", TorchForward);
            Time("zip", () => Zip());
        }
        double Rate(string name) => rows / best[name];
        Report.Line("onnx_ours_rows_per_s", Rate("ours"), "F0");
        Report.Line("onnx_engine_rows_per_s", Rate("engine"), "F0");
        Report.Line("onnx_ort_rows_per_s", Rate("ort"), "F0");
        Report.Line("onnx_ort_score_graph_rows_per_s", Rate("ort_graph"), "F0");
        Report.Line("onnx_torch_forward_rows_per_s", Rate("torch"), "F0");
        Report.Line("onnx_zip_rows_per_s", Rate("zip"), "F0");
        Report.Line("onnx_infer_ratio", Rate("ours") / Rate("ort"), "F3");
        Report.Line("onnx_engine_infer_ratio", Rate("engine") / Rate("ort_graph"), "F3");

        // PredictionEngine: one row per call, as a service scores requests. Latency per call, after a warm-up.
        void Latency(string name, Func<FashionMnistImage, float[]> predict)
        {
            for (int i = 0; i < 200; i++) predict(images[i % images.Count]);
            var micros = new double[predictions];
            for (int i = 0; i < predictions; i++)
            {
                var t = Stopwatch.GetTimestamp();
                predict(images[i % images.Count]);
                micros[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds * 1000;
            }
            Array.Sort(micros);
            Report.Line($"onnx_predict_{name}_median_us", micros[predictions / 2], "F1");
            Report.Line($"onnx_predict_{name}_p99_us", micros[Math.Min(predictions - 1, (int)Math.Ceiling(predictions * 0.99) - 1)], "F1");
        }
        var libTorchEngine = ml.Model.CreatePredictionEngine<FashionMnistImage, ScoreRow>(cnn);
        var ortEngine = ml.Model.CreatePredictionEngine<FashionMnistImage, ScoreRow>(engineModel);
        var zipEngine = ml.Model.CreatePredictionEngine<FashionMnistImage, ScoreRow>(loaded);
        var one = new float[10];
        using var oneRun = new RunOptions();
        Latency("libtorch", image => libTorchEngine.Predict(image).Score);
        Latency("ort_engine", image => ortEngine.Predict(image).Score);
        Latency("bare_ort", image =>
        {
            using var x = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, image.Features.AsMemory(), new long[] { 1, 784 });
            using var y = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, one.AsMemory(), new long[] { 1, 10 });
            graphSession.Run(oneRun, new[] { Onnx.Engine.OnnxRuntimeBackend.InputName }, new[] { x }, new[] { OnnxNames.Score }, new[] { y });
            return one;
        });
        Latency("zip", image => zipEngine.Predict(image).Score);
        return maxDiff <= 1e-4 && engineDiff <= 1e-5 ? 0 : 1;
    }
}
