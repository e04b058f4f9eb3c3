using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Datasets;
using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport;
using static TorchSharp.torch;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// ONNX import: ImageNet ResNet18 (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18, in DnnImageModels/) imported with
/// OnnxNetwork.Load and run in eval mode under no_grad, against ONNX Runtime on the same file, in the same batches of
/// real images (Fashion-MNIST test images resized to 3×224×224). The file fixes its batch dimension at 1, which ONNX
/// Runtime enforces, so ONNX Runtime gets the file with dim 0 of its inputs and outputs renamed to a dynamic "N"
/// (read and written with MLNetDeep's protobuf reader/writer; nothing else changes). Both use the same number of threads.
///   dotnet run -c Release --project benchmarks/MLNetDeep.Benchmarks -- import [--rows N] [--batch B] [--repeats R]
/// </summary>
public sealed class ImportBenchmark : IBenchmark
{
    private const string Input = "Input247", Output = "Pooling395_Output_0";

    /// <inheritdoc />
    public string Name => "import";
    /// <inheritdoc />
    public string Description => "ONNX import of ResNet18: imported forward rows/s vs ONNX Runtime on the same file (import_infer_ratio = ours / ORT), import_max_abs_diff";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        int rows = Report.Arg(args, "--rows", 128), batch = Report.Arg(args, "--batch", 32), repeats = Report.Arg(args, "--repeats", 2);
        var path = Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} is missing: the benchmark project references NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18.", path);

        var sw = Stopwatch.StartNew();
        using var network = OnnxNetwork.Load(path);
        network.eval();
        Report.Line("import_load_seconds", sw.Elapsed.TotalSeconds, "F2");
        Report.Line("import_blocks", network.Blocks.Count, "F0");
        Report.Line("import_parameters", network.parameters().Sum(p => p.numel()), "F0");

        var pixels = Images(rows);
        int threads = get_num_threads();
        Report.Line("import_threads", threads, "F0");
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var session = new InferenceSession(DynamicBatch(File.ReadAllBytes(path)), options);
        const int image = 3 * 224 * 224;

        float[] Ours()
        {
            var result = new float[rows * 512];
            using var _ = no_grad();
            for (int start = 0; start < rows; start += batch)
            {
                int n = Math.Min(batch, rows - start);
                using var scope = NewDisposeScope();
                var x = tensor(pixels.AsSpan(start * image, n * image).ToArray(), new long[] { n, 3, 224, 224 });
                network.forward(x).data<float>().ToArray().CopyTo(result, start * 512);
            }
            return result;
        }
        float[] Ort()
        {
            var result = new float[rows * 512];
            for (int start = 0; start < rows; start += batch)
            {
                int n = Math.Min(batch, rows - start);
                var input = new DenseTensor<float>(pixels.AsMemory(start * image, n * image), new[] { n, 3, 224, 224 });
                using var outputs = session.Run(new[] { NamedOnnxValue.CreateFromTensor(Input, input) }, new[] { Output });
                outputs[0].AsTensor<float>().ToArray().CopyTo(result, start * 512);
            }
            return result;
        }

        var ours = Ours();
        var ort = Ort();
        double maxDiff = ours.Zip(ort).Max(p => Math.Abs(p.First - p.Second));
        Report.Line("import_max_abs_diff", maxDiff, "G3");

        // best of `repeats` timed passes each, alternating so both see the same machine load
        double oursBest = double.MaxValue, ortBest = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            sw.Restart(); Ours(); oursBest = Math.Min(oursBest, sw.Elapsed.TotalSeconds);
            sw.Restart(); Ort(); ortBest = Math.Min(ortBest, sw.Elapsed.TotalSeconds);
        }
        Report.Line("import_ours_rows_per_s", rows / oursBest, "F1");
        Report.Line("import_ort_rows_per_s", rows / ortBest, "F1");
        Report.Line("import_infer_ratio", ortBest / oursBest, "F3");
        return maxDiff <= 1e-4 ? 0 : 1;
    }

    /// <summary>The model with dimension 0 of every graph input and output a named dynamic size (intermediate shapes dropped).</summary>
    private static byte[] DynamicBatch(byte[] bytes)
    {
        var model = ModelProto.Parse(bytes);
        foreach (var v in model.Graph.Inputs.Concat(model.Graph.Outputs).Where(v => v.OtherType is null && v.Shape.Count > 0))
            v.Shape[0] = "N";
        model.Graph.ValueInfo.Clear();
        return ProtoWriter.Serialize(model);
    }

    /// <summary>Fashion-MNIST test images as 0–255 grey, resized (bilinear) to 224×224 in 3 channels minus ResNetPreprocess's BGR means.</summary>
    private static float[] Images(int n)
    {
        using var scope = NewDisposeScope();
        var grey = tensor(FashionMnist.Read(train: false, take: n).SelectMany(i => i.Features).ToArray(), new long[] { n, 1, 28, 28 }) * 255f;
        var big = nn.functional.interpolate(grey, new long[] { 224, 224 }, mode: InterpolationMode.Bilinear, align_corners: false);
        var mean = tensor(new[] { 103.939f, 116.779f, 123.68f }).reshape(1, 3, 1, 1);
        return (big.expand(n, 3, 224, 224) - mean).contiguous().data<float>().ToArray();
    }
}
