using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using MLNetDeep.Scoring;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// ONNX export of the reference CNN (Fashion-MNIST): the largest absolute difference between our transformer's
/// Score and ONNX Runtime's on real test rows, and batched scoring throughput of both (rows/s) and their ratio.
///   dotnet run -c Release --project benchmarks/MLNetDeep.Benchmarks -- onnx [--train N] [--rows N] [--batch B] [--repeats R]
/// </summary>
public sealed class OnnxBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "onnx";
    /// <inheritdoc />
    public string Description => "ONNX export of the reference CNN: parity (onnx_max_abs_diff) and scoring throughput vs ONNX Runtime (onnx_infer_ratio = ours / ORT)";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        int trainRows = Report.Arg(args, "--train", 2000), rows = Report.Arg(args, "--rows", 2000);
        int batch = Report.Arg(args, "--batch", 256), repeats = Report.Arg(args, "--repeats", 3);
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
        Report.Line("onnx_train_seconds", sw.Elapsed.TotalSeconds, "F1");

        sw.Restart();
        using var onnxStream = new MemoryStream();
        cnn.ExportToOnnx(onnxStream, new OnnxExportOptions());
        var onnxBytes = onnxStream.ToArray();
        Report.Line("onnx_export_seconds", sw.Elapsed.TotalSeconds, "F3");
        Report.Line("onnx_model_kib", onnxBytes.Length / 1024.0, "F1");

        var images = FashionMnist.Read(train: false, take: rows);
        var testView = ml.Data.LoadFromEnumerable(images);
        var keyed = model.First().Transform(testView); // MapValueToKey only; the CNN reads Features
        var pixels = images.SelectMany(i => i.Features).ToArray();

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(onnxBytes, options);

        float[] Ours() => cnn.Transform(keyed).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        float[] Ort()
        {
            var result = new float[rows * 10];
            for (int start = 0; start < rows; start += batch)
            {
                int n = Math.Min(batch, rows - start);
                var input = new DenseTensor<float>(pixels.AsMemory(start * 784, n * 784), new[] { n, 784 });
                using var outputs = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Features", input) }, new[] { "Score" });
                outputs[0].AsTensor<float>().ToArray().CopyTo(result, start * 10);
            }
            return result;
        }

        // The bare TorchSharp forward pass on ready tensors (no IDataView), to show where our transformer's time goes.
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

        var ours = Ours();
        var ort = Ort();
        double maxDiff = ours.Zip(ort).Max(p => Math.Abs(p.First - p.Second));
        Report.Line("onnx_max_abs_diff", maxDiff, "G3");

        // Best of `repeats` timed passes each, alternating so both see the same machine load.
        double oursBest = double.MaxValue, ortBest = double.MaxValue, torchBest = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            sw.Restart(); Ours(); oursBest = Math.Min(oursBest, sw.Elapsed.TotalSeconds);
            sw.Restart(); Ort(); ortBest = Math.Min(ortBest, sw.Elapsed.TotalSeconds);
            sw.Restart(); TorchForward(); torchBest = Math.Min(torchBest, sw.Elapsed.TotalSeconds);
        }
        double oursRate = rows / oursBest, ortRate = rows / ortBest;
        Report.Line("onnx_ours_rows_per_s", oursRate, "F0");
        Report.Line("onnx_ort_rows_per_s", ortRate, "F0");
        Report.Line("onnx_torch_forward_rows_per_s", rows / torchBest, "F0");
        Report.Line("onnx_infer_ratio", oursRate / ortRate, "F3");
        return maxDiff <= 1e-4 ? 0 : 1;
    }
}
