using Xunit;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetDeep.Datasets;
using MLNetDeep.Scoring;
using MLNetDeep.Tests.Support;
using MLNetDeep.Training;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Tasks;

namespace MLNetDeep.Tests.Onnx;

/// <summary>A Fashion-MNIST row with a Boolean label (is it footwear?).</summary>
public sealed class BinaryImage
{
    [VectorType(FashionMnist.Pixels)] public float[] Features { get; set; } = Array.Empty<float>();
    public bool Label { get; set; }
}

/// <summary>A Fashion-MNIST row with a Single label (the class index as a number, a stand-in regression target).</summary>
public sealed class RegressionImage
{
    [VectorType(FashionMnist.Pixels)] public float[] Features { get; set; } = Array.Empty<float>();
    public float Label { get; set; }
}

/// <summary>Trains small CNNs on real Fashion-MNIST rows and scores them with ONNX Runtime.</summary>
internal static class OnnxTestSupport
{
    public const int TrainRows = 128;
    public const int TestRows = 64;
    public const float Tolerance = 1e-4f;

    private static readonly HashSet<string> Footwear = new() { "Sandal", "Sneaker", "Ankle boot" };

    public static IDataView TrainView(MLContext ml, PredictionKind kind, int n = TrainRows) => View(ml, kind, TestData.TrainImages(n));
    public static IDataView TestView(MLContext ml, PredictionKind kind, int n = TestRows) => View(ml, kind, TestData.TestImages(n));

    private static IDataView View(MLContext ml, PredictionKind kind, List<FashionMnistImage> images) => kind switch
    {
        PredictionKind.MulticlassClassification => ml.Data.LoadFromEnumerable(images),
        PredictionKind.BinaryClassification => ml.Data.LoadFromEnumerable(images.Select(i => new BinaryImage { Features = i.Features, Label = Footwear.Contains(i.Label) })),
        _ => ml.Data.LoadFromEnumerable(images.Select(i => new RegressionImage { Features = i.Features, Label = FashionMnist.ClassNames.ToList().IndexOf(i.Label) })),
    };

    /// <summary>Trains one epoch on 128 real rows (enough to move the weights and batch-norm statistics off their initial values).</summary>
    public static (ITransformer Pipeline, DeepTransformer Model) Train(MLContext ml, PredictionKind kind, CnnOptions options)
    {
        options.Epochs = 1;
        options.BatchSize = 32;
        options.Device = MLNetDeep.Runtime.ComputeDevice.Cpu;
        var train = TrainView(ml, kind);
        IEstimator<ITransformer> trainer = kind switch
        {
            PredictionKind.MulticlassClassification => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.Cnn(options)),
            PredictionKind.BinaryClassification => ml.BinaryClassification.Trainers.Cnn(options),
            _ => ml.Regression.Trainers.Cnn(options),
        };
        var pipeline = trainer.Fit(train).ScoredByLibTorch(); // expected values from the network itself, not ONNX Runtime
        return (pipeline, pipeline.GetDeepTransformer());
    }

    public static float[][] TestFeatures(int n = TestRows) => TestData.TestImages(n).Select(i => i.Features).ToArray();

    /// <summary>Runs the ONNX model on <paramref name="rows"/> in batches of <paramref name="batchSize"/>; returns each output's values laid end to end.</summary>
    public static Dictionary<string, List<object>> RunOnnx(byte[] model, float[][] rows, int batchSize, string inputName = "Features")
    {
        using var session = new InferenceSession(model);
        var result = new Dictionary<string, List<object>>();
        int width = rows[0].Length;
        for (int start = 0; start < rows.Length; start += batchSize)
        {
            int n = Math.Min(batchSize, rows.Length - start);
            var data = new float[n * width];
            for (int i = 0; i < n; i++) rows[start + i].CopyTo(data, i * width);
            var input = new DenseTensor<float>(data, new[] { n, width });
            using var outputs = session.Run(new[] { NamedOnnxValue.CreateFromTensor(inputName, input) });
            foreach (var o in outputs)
            {
                if (!result.TryGetValue(o.Name, out var list)) result[o.Name] = list = new List<object>();
                switch (o.Value)
                {
                    case Tensor<float> f:
                        Assert.Equal(n, f.Dimensions[0]);
                        list.AddRange(f.ToArray().Cast<object>());
                        break;
                    case Tensor<bool> b: Assert.Equal(n, b.Dimensions[0]); list.AddRange(b.ToArray().Cast<object>()); break;
                    case Tensor<string> s: Assert.Equal(n, s.Dimensions[0]); list.AddRange(s.ToArray()); break;
                    default: throw new InvalidOperationException($"Unexpected output type {o.Value.GetType()}");
                }
            }
        }
        return result;
    }

    /// <summary>The transformer's outputs on <paramref name="view"/>, in the same layout as <see cref="RunOnnx"/>.</summary>
    public static Dictionary<string, List<object>> RunTransformer(ITransformer model, IDataView view, PredictionKind kind, IReadOnlyList<string> classNames)
    {
        var scored = model.Transform(view);
        var result = new Dictionary<string, List<object>>();
        switch (kind)
        {
            case PredictionKind.MulticlassClassification:
                result["Score"] = scored.GetColumn<float[]>("Score").SelectMany(s => s).Cast<object>().ToList();
                result["PredictedLabel"] = scored.GetColumn<uint>("PredictedLabel").Select(k => (object)classNames[(int)k - 1]).ToList();
                break;
            case PredictionKind.BinaryClassification:
                result["Score"] = scored.GetColumn<float>("Score").Cast<object>().ToList();
                result["Probability"] = scored.GetColumn<float>("Probability").Cast<object>().ToList();
                result["PredictedLabel"] = scored.GetColumn<bool>("PredictedLabel").Cast<object>().ToList();
                break;
            default:
                result["Score"] = scored.GetColumn<float>("Score").Cast<object>().ToList();
                break;
        }
        return result;
    }

    /// <summary>Largest absolute difference of float outputs; asserts the non-float outputs are equal.</summary>
    public static double Compare(Dictionary<string, List<object>> expected, Dictionary<string, List<object>> actual)
    {
        Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
        double max = 0;
        foreach (var (name, exp) in expected)
        {
            var act = actual[name];
            Assert.Equal(exp.Count, act.Count);
            for (int i = 0; i < exp.Count; i++)
            {
                if (exp[i] is float e)
                {
                    Assert.True(float.IsFinite((float)act[i]), $"{name}[{i}] is {act[i]}");
                    max = Math.Max(max, Math.Abs(e - (float)act[i]));
                }
                else Assert.Equal(exp[i], act[i]);
            }
        }
        return max;
    }
}
