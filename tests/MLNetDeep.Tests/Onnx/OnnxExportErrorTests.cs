using Microsoft.ML;
using MLNetDeep.Activations;
using MLNetDeep.Data;
using MLNetDeep.Initializers;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Onnx;
using MLNetDeep.Onnx.Proto;
using MLNetDeep.Persistence;
using MLNetDeep.Scoring;
using MLNetDeep.Training;
using TorchSharp;
using Xunit;
using static MLNetDeep.Tests.Onnx.OnnxTestSupport;
using static TorchSharp.torch;
using MLNetDeep.Tasks;

namespace MLNetDeep.Tests.Onnx;

/// <summary>What can't be exported fails with a clear error naming the layer and why; the protobuf writer's encoding.</summary>
[Trait("Category", "Unit")]
public sealed class OnnxExportErrorTests
{
    private static DeepTransformer SmallModel(List<CnnLayer>? layers = null) =>
        Train(new MLContext(seed: 1), PredictionKind.MulticlassClassification, new CnnOptions
        {
            ImageShape = new ImageShape(1, 28, 28),
            Layers = layers ?? new() { new ConvBlock(4, 3, PoolingKind.Max) },
            Head = new DenseHead { HiddenSizes = new() { 8 } },
        }).Model;

    [Fact]
    public void Opset_OutsideTheSupportedRange_IsRefused()
    {
        var model = SmallModel();
        foreach (var opset in new[] { 16, 24 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.ExportToOnnx(new MemoryStream(), new OnnxExportOptions { Opset = opset }));
            Assert.Contains("Opset must be between 17 and 23", e.Message);
        }
    }

    [Fact]
    public void InputName_ClashingWithAnOutput_IsRefused()
    {
        var e = Assert.Throws<OnnxExportException>(() => SmallModel().ExportToOnnx(new MemoryStream(), new OnnxExportOptions { InputName = "Score" }));
        Assert.Contains("'Score' is also an output name", e.Message);
    }

    [Fact]
    public void UnknownActivation_NamesTheLayerAndTheActivation()
    {
        var model = SmallModel(new() { new ConvBlock(4, 3, PoolingKind.Max), new ConvBlock(4, 3) });
        // A user-defined activation (not exportable) in the second block.
        ((CnnArchitecture)model.Description.Architecture).Layers[1].Activation = new Mish();
        var e = Assert.Throws<OnnxExportException>(() => model.ExportToOnnx(new MemoryStream()));
        Assert.Equal("Layers[1] (ConvBlock)", e.Layer);
        Assert.Contains("activation 'mish'", e.Message);
    }

    [Fact]
    public void DescriptionAndWeightsThatDisagree_AreRefusedNotWrittenWrong()
    {
        var model = SmallModel();
        model.Description.Architecture.As<CnnArchitecture>().Head.HiddenSizes.Clear(); // the head's dense0 weights would be skipped
        var e = Assert.Throws<OnnxExportException>(() => model.ExportToOnnx(new MemoryStream()));
        Assert.Contains("head.layers.dense0", e.Message);
    }

    [Fact]
    public void FamilyWithoutExporter_SaysSo()
    {
        TorchSharp.torch.random.manual_seed(0);
        var arch = new ToyArchitecture();
        var network = arch.Build(1, null);
        var description = new ModelDescription { Architecture = arch, Head = new HeadSpec { Kind = PredictionKind.Regression } };
        using var model = new DeepTransformer(description, network, CPU);
        var e = Assert.Throws<OnnxExportException>(() => model.ExportToOnnx(new MemoryStream()));
        Assert.Contains("no ONNX exporter for ToyArchitecture networks", e.Message);
        Assert.Contains("CnnArchitecture", e.Message);
    }

    [Fact]
    public void FailedExport_LeavesNoFileBehind()
    {
        var dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-onnx-fail-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var model = SmallModel();
            ((CnnArchitecture)model.Description.Architecture).Layers[0].Activation = new Mish();
            Assert.Throws<OnnxExportException>(() => model.ExportToOnnx(Path.Combine(dir, "m.onnx")));
            Assert.Empty(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ProtoWriter_EncodesVarintsFloatsAndNestedMessages()
    {
        var w = new ProtoWriter();
        w.Int64(1, 300);          // tag 0x08, varint AC 02
        w.Int64(2, -1);           // negative int64: ten bytes
        w.Float(3, 1.0f);         // tag 0x1D, 00 00 80 3F
        w.String(4, "hi");        // tag 0x22, length 2
        w.PackedInt64(5, new long[] { 1, 2 }); // tag 0x2A, length 2, 01 02
        Assert.Equal(new byte[]
        {
            0x08, 0xAC, 0x02,
            0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
            0x1D, 0x00, 0x00, 0x80, 0x3F,
            0x22, 0x02, (byte)'h', (byte)'i',
            0x2A, 0x02, 0x01, 0x02,
        }, w.Written.ToArray());

        // a rank-0 tensor type still writes its (empty) shape: TypeProto{tensor_type{elem_type=1, shape{}}}
        var scalar = ProtoWriter.Serialize(new ValueInfoProto { Name = "s", ElemType = OnnxDataType.Float });
        Assert.Equal(new byte[] { 0x0A, 0x01, (byte)'s', 0x12, 0x06, 0x0A, 0x04, 0x08, 0x01, 0x12, 0x00 }, scalar);
    }

    private sealed class Mish : Activation
    {
        public override nn.Module<Tensor, Tensor> CreateModule() => nn.Mish();
        public override string Name => "mish";
    }

    private sealed class ToyArchitecture : NetworkArchitecture
    {
        public override FeatureLayout Layout => new FixedShapeLayout { Shape = new long[] { 4 }, ShapeDescription = "values" };
        public override void Validate() { }
        public override DeepNetwork Build(int outputSize, Initializer? initializer) => new ToyNetwork(outputSize);
    }

    private sealed class ToyNetwork : DeepNetwork
    {
        private readonly nn.Module<Tensor, Tensor> _linear;
        public ToyNetwork(int outputs) : base("toy") { _linear = nn.Linear(4, outputs); RegisterComponents(); }
        public override Tensor forward(Tensor x) => _linear.call(x);
    }
}

internal static class ArchitectureExtensions
{
    public static T As<T>(this NetworkArchitecture a) where T : NetworkArchitecture => (T)a;
}
