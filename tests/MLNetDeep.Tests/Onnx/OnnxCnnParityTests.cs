using Xunit;
using Microsoft.ML;
using MLNetDeep.Activations;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using MLNetDeep.Training;
using Xunit.Abstractions;
using static MLNetDeep.Tests.Onnx.OnnxTestSupport;
using MLNetDeep.Tasks;

namespace MLNetDeep.Tests.Onnx;

/// <summary>
/// Exported CNNs scored by ONNX Runtime match the TorchSharp transformer within 1e-4 on real Fashion-MNIST
/// test rows, for every block option, every head, and batches of 1, 7 and 64 rows.
/// </summary>
public sealed class OnnxCnnParityTests
{
    private readonly ITestOutputHelper _out;
    public OnnxCnnParityTests(ITestOutputHelper output) => _out = output;

    internal static CnnOptions Options(List<CnnLayer> layers, FlattenMode flatten = FlattenMode.Flatten, DenseHead? head = null) => new()
    {
        ImageShape = new ImageShape(1, 28, 28),
        Layers = layers,
        Flatten = flatten,
        Head = head ?? new DenseHead { HiddenSizes = new() { 16 } },
    };

    private double CheckParity(PredictionKind kind, CnnOptions options, OnnxExportOptions? export = null, int[]? batches = null)
    {
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = Train(ml, kind, options);
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream, export);
        var bytes = stream.ToArray();
        var test = TestView(ml, kind);
        var expected = RunTransformer(pipeline, test, kind, model.ClassNames);
        double worst = 0;
        foreach (var batch in batches ?? new[] { 1, 7, TestRows })
        {
            var actual = RunOnnx(bytes, TestFeatures(), batch);
            double diff = Compare(expected, actual);
            _out.WriteLine($"{kind} batch {batch}: max abs diff {diff:G3}");
            Assert.True(diff <= Tolerance, $"max abs diff {diff} > {Tolerance} (batch {batch})");
            worst = Math.Max(worst, diff);
        }
        return worst;
    }

    public static TheoryData<string> ActivationNames => new()
    {
        "relu", "leaky_relu", "elu", "selu", "gelu", "softplus", "tanh", "sigmoid", "silu", "identity",
    };

    private static Activation ActivationFor(string name) => name switch
    {
        "relu" => new Relu(),
        "leaky_relu" => new LeakyRelu { Alpha = 0.2 },
        "elu" => new Elu { Alpha = 0.7 },
        "selu" => new Selu(),
        "gelu" => new Gelu(),
        "softplus" => new Softplus(),
        "tanh" => new Tanh(),
        "sigmoid" => new Sigmoid(),
        "silu" => new Silu(),
        _ => new Identity(),
    };

    [Theory]
    [MemberData(nameof(ActivationNames))]
    public void EveryActivation_InConvBlocksAndHead(string activation)
    {
        var act = ActivationFor(activation);
        CheckParity(PredictionKind.MulticlassClassification, Options(
            new() { new ConvBlock(8, 3, PoolingKind.Max) { Activation = act }, new ConvBlock(8, 3, PoolingKind.Max) { Activation = act, BatchNorm = false } },
            head: new DenseHead { HiddenSizes = new() { 16 }, Activation = act }));
    }

    [Fact]
    public void Gelu_AtOpset20_UsesNativeOperator()
    {
        var act = new Gelu();
        CheckParity(PredictionKind.MulticlassClassification, Options(new() { new ConvBlock(8, 3, PoolingKind.Max) { Activation = act } },
            head: new DenseHead { HiddenSizes = new() { 16 }, Activation = act }), new OnnxExportOptions { Opset = 20 }, new[] { 64 });
    }

    [Fact]
    public void Pooling_MaxAverageAndNone()
    {
        CheckParity(PredictionKind.MulticlassClassification, Options(new()
        {
            new ConvBlock(8, 3, PoolingKind.Max),
            new ConvBlock(8, 3, PoolingKind.Average),
            new ConvBlock(8, 3, PoolingKind.None),
            new ConvBlock(8, 3, PoolingKind.Average) { PoolSize = 3 },
        }));
    }

    [Fact]
    public void Padding_ValidExplicitAndAsymmetricSameWithStride2()
    {
        CheckParity(PredictionKind.MulticlassClassification, Options(new()
        {
            new ConvBlock(8, 3) { Padding = PaddingMode.Same, Stride = 2 },   // 28 → 14, pads (0, 1): asymmetric
            new ConvBlock(8, 4) { Padding = PaddingMode.Same },               // even kernel: pads (1, 2)
            new ConvBlock(8, 3) { Padding = PaddingMode.Valid },              // 14 → 12
            new ConvBlock(8, 3) { Padding = PaddingMode.Explicit, PaddingSize = 2, Stride = 2 }, // 12 → 7
            new ConvBlock(8, 5) { Padding = PaddingMode.Same, Stride = 2, BatchNorm = false },  // 7 → 4, pads (1, 2)
        }));
    }

    [Fact]
    public void ResidualBlocks_IdentityAndProjectionShortcuts_WithAndWithoutBatchNorm()
    {
        CheckParity(PredictionKind.MulticlassClassification, Options(new()
        {
            new ConvBlock(8, 3),
            new ResidualBlock(8),                                       // identity shortcut
            new ResidualBlock(12, 2) { Pooling = PoolingKind.Max },      // 1x1 projection + BN, stride 2 (asymmetric same)
            new ResidualBlock(16, 2) { BatchNorm = false, Activation = new Elu(), KernelSize = 2 }, // projection without BN
        }));
    }

    [Fact]
    public void BatchNorm_AsNodes_WhenNotFolded_AndInDenseHead()
    {
        var options = Options(new() { new ConvBlock(8, 3, PoolingKind.Max), new ResidualBlock(16, 2) },
            head: new DenseHead { HiddenSizes = new() { 32, 16 }, BatchNorm = true });
        CheckParity(PredictionKind.MulticlassClassification, options, new OnnxExportOptions { FoldBatchNorm = false });
        CheckParity(PredictionKind.MulticlassClassification, Options(new() { new ConvBlock(8, 3, PoolingKind.Max), new ResidualBlock(16, 2) },
            head: new DenseHead { HiddenSizes = new() { 32, 16 }, BatchNorm = true }), new OnnxExportOptions { FoldBatchNorm = true }, new[] { 64 });
    }

    [Fact]
    public void GlobalAveragePooling_AndLinearHead()
    {
        CheckParity(PredictionKind.MulticlassClassification, Options(new() { new ConvBlock(8, 3, PoolingKind.Max), new ConvBlock(16, 3) },
            FlattenMode.GlobalAveragePool, new DenseHead { HiddenSizes = new(), InputDropout = 0 }));
    }

    [Fact]
    public void BinaryHead_ScoreProbabilityAndPredictedLabel()
    {
        CheckParity(PredictionKind.BinaryClassification, Options(new() { new ConvBlock(8, 3, PoolingKind.Max), new ResidualBlock(8, 2) }));
    }

    [Fact]
    public void RegressionHead_RescalesToLabelUnits()
    {
        CheckParity(PredictionKind.Regression, Options(new() { new ConvBlock(8, 3, PoolingKind.Average) { Activation = new Tanh() } },
            head: new DenseHead { HiddenSizes = new() { 16 }, BatchNorm = true }));
    }

    [Fact]
    public void ReferenceCnn_AtOpset17And21()
    {
        // default layers and head: the reference CNN of the benchmarks
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = Train(ml, PredictionKind.MulticlassClassification, new CnnOptions { ImageShape = new ImageShape(1, 28, 28) });
        var expected = RunTransformer(pipeline, TestView(ml, PredictionKind.MulticlassClassification), PredictionKind.MulticlassClassification, model.ClassNames);
        foreach (var opset in new[] { 17, 21 })
        {
            using var s = new MemoryStream();
            model.ExportToOnnx(s, new OnnxExportOptions { Opset = opset });
            foreach (var batch in new[] { 7, TestRows })
            {
                double diff = Compare(expected, RunOnnx(s.ToArray(), TestFeatures(), batch));
                _out.WriteLine($"opset {opset} batch {batch}: max abs diff {diff:G3}");
                Assert.True(diff <= Tolerance, $"opset {opset}, batch {batch}: max abs diff {diff}");
            }
        }
    }
}
