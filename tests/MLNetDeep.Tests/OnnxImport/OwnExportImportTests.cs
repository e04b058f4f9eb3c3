using Microsoft.ML;
using MLNetDeep.Activations;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using MLNetDeep.OnnxImport;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Training;
using Xunit;
using Xunit.Abstractions;
using static MLNetDeep.Tests.Onnx.OnnxTestSupport;
using static TorchSharp.torch;
using RecurrentCell = MLNetDeep.Models.Sequence.RecurrentCell;

namespace MLNetDeep.Tests.OnnxImport;

/// <summary>
/// import(export(m)) scores like m: every CNN configuration the ONNX export parity tests use (activations, pooling,
/// padding, residual blocks, batch norm folded or as nodes, global average pooling, dense heads; multiclass, binary,
/// regression; opsets 17 to 23), trained one epoch on real Fashion-MNIST rows, exported, imported, and run in eval mode
/// on 64 test rows: the imported network's output (the graph's first output, Score) is within 1e-4 of the
/// transformer's Score column. Sequence models (LSTM) are outside the operator list and fail with the message.
/// </summary>
public sealed class OwnExportImportTests
{
    private readonly ITestOutputHelper _out;
    public OwnExportImportTests(ITestOutputHelper output) => _out = output;

    private static CnnOptions Cnn(List<CnnLayer> layers, FlattenMode flatten = FlattenMode.Flatten, DenseHead? head = null) =>
        MLNetDeep.Tests.Onnx.OnnxCnnParityTests.Options(layers, flatten, head);

    public static TheoryData<string> Configurations => new()
    {
        "activations relu leaky elu selu gelu", "activations softplus tanh sigmoid silu identity", "gelu opset 20", "pooling", "padding and strides", "residual", "bn nodes and bn head",
        "gap linear head", "binary", "regression", "reference cnn opset 23",
    };

    private static (PredictionKind Kind, CnnOptions Options, OnnxExportOptions Export) Configuration(string name)
    {
        var act = new Activation[] { new Relu(), new LeakyRelu { Alpha = 0.2 }, new Elu { Alpha = 0.7 }, new Selu(), new Gelu(), new Softplus(), new Tanh(), new Sigmoid(), new Silu(), new Identity() };
        var multi = PredictionKind.MulticlassClassification;
        return name switch
        {
            "activations relu leaky elu selu gelu" => (multi, Activations(act.Take(5)), new OnnxExportOptions()),
            "activations softplus tanh sigmoid silu identity" => (multi, Activations(act.Skip(5)), new OnnxExportOptions { Opset = 22 }),
            "gelu opset 20" => (multi, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Max) { Activation = new Gelu() } }, head: new DenseHead { HiddenSizes = new() { 16 }, Activation = new Gelu() }),
                new OnnxExportOptions { Opset = 20 }),
            "pooling" => (multi, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Max), new ConvBlock(8, 3, PoolingKind.Average), new ConvBlock(8, 3, PoolingKind.None), new ConvBlock(8, 3, PoolingKind.Average) { PoolSize = 3 } }),
                new OnnxExportOptions()),
            "padding and strides" => (multi, Cnn(new()
            {
                new ConvBlock(8, 3) { Padding = PaddingMode.Same, Stride = 2 },
                new ConvBlock(8, 4) { Padding = PaddingMode.Same },
                new ConvBlock(8, 3) { Padding = PaddingMode.Valid },
                new ConvBlock(8, 3) { Padding = PaddingMode.Explicit, PaddingSize = 2, Stride = 2 },
                new ConvBlock(8, 5) { Padding = PaddingMode.Same, Stride = 2, BatchNorm = false },
            }), new OnnxExportOptions()),
            "residual" => (multi, Cnn(new()
            {
                new ConvBlock(8, 3), new ResidualBlock(8), new ResidualBlock(12, 2) { Pooling = PoolingKind.Max },
                new ResidualBlock(16, 2) { BatchNorm = false, Activation = new Elu(), KernelSize = 2 },
            }), new OnnxExportOptions { Opset = 18 }),
            "bn nodes and bn head" => (multi, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Max), new ResidualBlock(16, 2) },
                head: new DenseHead { HiddenSizes = new() { 32, 16 }, BatchNorm = true }), new OnnxExportOptions { FoldBatchNorm = false, Opset = 21 }),
            "gap linear head" => (multi, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Max), new ConvBlock(16, 3) }, FlattenMode.GlobalAveragePool,
                new DenseHead { HiddenSizes = new(), InputDropout = 0 }), new OnnxExportOptions { Opset = 19 }),
            "binary" => (PredictionKind.BinaryClassification, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Max), new ResidualBlock(8, 2) }), new OnnxExportOptions()),
            "regression" => (PredictionKind.Regression, Cnn(new() { new ConvBlock(8, 3, PoolingKind.Average) { Activation = new Tanh() } },
                head: new DenseHead { HiddenSizes = new() { 16 }, BatchNorm = true }), new OnnxExportOptions { FoldBatchNorm = false }),
            "reference cnn opset 23" => (multi, new CnnOptions { ImageShape = new ImageShape(1, 28, 28) }, new OnnxExportOptions { Opset = 23 }),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    /// <summary>Five conv blocks, one activation each (batch norm on every other, max pooling on two), and a dense head with the last one.</summary>
    private static CnnOptions Activations(IEnumerable<Activation> activations)
    {
        var list = activations.ToList();
        return Cnn(list.Select((a, i) => (CnnLayer)new ConvBlock(4, 3, i is 1 or 3 ? PoolingKind.Max : PoolingKind.None) { Activation = a, BatchNorm = i % 2 == 0 }).ToList(),
            head: new DenseHead { HiddenSizes = new() { 8 }, Activation = list[^1] });
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void ImportOfExport_ScoresLikeTheModel(string configuration)
    {
        var (kind, options, export) = Configuration(configuration);
        var ml = new MLContext(seed: 1);
        var (pipeline, model) = Train(ml, kind, options);
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream, export);
        stream.Position = 0;
        using var imported = OnnxNetwork.Load(stream);
        imported.eval();
        Assert.Equal(OnnxNames.Score, imported.OutputNames[0]);
        Assert.Equal("MLNetDeep", imported.ProducerName);

        var expected = RunTransformer(pipeline, TestView(ml, kind), kind, model.ClassNames)[OnnxNames.Score].Cast<float>().ToArray();
        var rows = TestFeatures();
        using var scope = NewDisposeScope();
        float[] actual;
        using (no_grad()) actual = imported.forward(tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, rows[0].Length })).flatten().data<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        double diff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        _out.WriteLine($"{configuration}: {imported.Blocks.Count} blocks, max abs diff {diff:G3}; " + string.Join(" | ", imported.Blocks.Select(b => string.Join(",", b.OperatorTypes))));
        Assert.True(diff <= Tolerance, $"{configuration}: max abs diff {diff}");
        Assert.True(expected.Distinct().Count() > 1, "the scores should vary between rows");
    }

    [Fact]
    public void SequenceModel_FailsAtImport_NamingTheNodeTheOperatorAndTheSupportedList()
    {
        var ml = new MLContext(seed: 1);
        var model = MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Fit(ml, PredictionKind.BinaryClassification,
            MLNetDeep.Tests.Onnx.OnnxSequenceParityTests.Options(RecurrentCell.Lstm), TrainView(ml, PredictionKind.BinaryClassification)).Model;
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream);
        var lstm = MLNetDeep.Onnx.Proto.ModelProto.Parse(stream.ToArray()).Graph.Nodes.First(n => n.OpType == "LSTM");
        stream.Position = 0;
        var e = Assert.Throws<OnnxImportException>(() => OnnxNetwork.Load(stream));
        _out.WriteLine(e.Message);
        Assert.Equal("LSTM", e.OpType);
        Assert.Equal(lstm.Name, e.NodeName);
        Assert.Contains($"Cannot import node '{lstm.Name}' (LSTM, opset 17): the importer does not support this operator.", e.Message);
        Assert.Contains("Unsupported in this graph: LSTM (1 node)", e.Message);
        Assert.Contains("Supported: Abs, Add, AveragePool, BatchNormalization,", e.Message);
    }
}
