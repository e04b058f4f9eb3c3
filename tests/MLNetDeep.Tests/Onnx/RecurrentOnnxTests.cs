using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = TorchSharp.torch.Tensor;
using MLNetDeep.Onnx;
using MLNetDeep.Onnx.Proto;
using TorchSharp;
using Xunit;
using static MLNetDeep.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Onnx;

/// <summary>
/// The recurrent building blocks for the sequence families, checked against plain TorchSharp nn.LSTM / nn.GRU /
/// nn.RNN modules: gate-order conversion, stacked and bidirectional layers, and variable lengths.
/// </summary>
[Trait("Category", "Unit")]
public sealed class RecurrentOnnxTests
{
    private const int Batch = 3, Steps = 6, Features = 5, Hidden = 4;

    [Fact]
    public void GateOrder_LstmIfgoBecomesIofc_GruRznBecomesZrh()
    {
        var lstm = arange(8).reshape(8, 1).to(ScalarType.Float32); // H = 2: rows i0 i1 f0 f1 g0 g1 o0 o1
        Assert.Equal(new float[] { 0, 1, 6, 7, 2, 3, 4, 5 }, RecurrentOnnx.ToOnnxGateOrder(lstm, RecurrentCell.Lstm).data<float>().ToArray());
        var gru = arange(6).to(ScalarType.Float32);                 // r0 r1 z0 z1 n0 n1
        Assert.Equal(new float[] { 2, 3, 0, 1, 4, 5 }, RecurrentOnnx.ToOnnxGateOrder(gru, RecurrentCell.Gru).data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => RecurrentOnnx.ToOnnxGateOrder(arange(7).to(ScalarType.Float32), RecurrentCell.Lstm));
    }

    public static TheoryData<string, int, bool> Cells => new()
    {
        { "lstm", 2, true }, { "lstm", 1, false }, { "gru", 2, true }, { "rnn_tanh", 1, true }, { "rnn_relu", 2, false },
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public void StackedLayers_MatchTorchSharp(string kind, int layers, bool bidirectional)
    {
        random.manual_seed(3);
        var (module, cell) = Create(kind, layers, bidirectional);
        var x = randn(Batch, Steps, Features);
        Tensor expectedY, expectedH;
        using (no_grad()) (expectedY, expectedH) = RunTorch(module, x, layers, bidirectional);

        var bytes = Build(module, cell, layers, bidirectional, withLengths: false);
        using var session = new InferenceSession(bytes);
        using var result = session.Run(new[] { NamedOnnxValue.CreateFromTensor("X", ToOnnx(x)) });
        AssertClose(expectedY, result.First(r => r.Name == "Y").AsTensor<float>());
        AssertClose(expectedH, result.First(r => r.Name == "H").AsTensor<float>());
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    public void SequenceLengths_GiveEachRowsLastValidState(string kind)
    {
        random.manual_seed(4);
        var (module, cell) = Create(kind, 2, bidirectional: true);
        var x = randn(Batch, Steps, Features);
        int[] lengths = { 6, 2, 4 };
        var bytes = Build(module, cell, 2, true, withLengths: true);
        using var session = new InferenceSession(bytes);
        using var result = session.Run(new[]
        {
            NamedOnnxValue.CreateFromTensor("X", ToOnnx(x)),
            NamedOnnxValue.CreateFromTensor("lengths", new DenseTensor<int>(lengths, new[] { Batch })),
        });
        var h = result.First(r => r.Name == "H").AsTensor<float>();
        for (int i = 0; i < Batch; i++)
        {
            // Each row alone, truncated to its length, through the TorchSharp module.
            using var _ = no_grad();
            var (_, expected) = RunTorch(module, x[i..(i + 1), ..lengths[i]], 2, true);
            for (int j = 0; j < 2 * Hidden; j++)
                Assert.True(Math.Abs(expected[0, j].item<float>() - h[i, j]) <= 1e-5, $"row {i} (length {lengths[i]}), unit {j}");
        }
    }

    private static (nn.Module Module, RecurrentCell Cell) Create(string kind, int layers, bool bidirectional) => kind switch
    {
        "lstm" => (nn.LSTM(Features, Hidden, layers, batchFirst: true, bidirectional: bidirectional), RecurrentCell.Lstm),
        "gru" => (nn.GRU(Features, Hidden, layers, batchFirst: true, bidirectional: bidirectional), RecurrentCell.Gru),
        "rnn_tanh" => (nn.RNN(Features, Hidden, layers, nn.NonLinearities.Tanh, batchFirst: true, bidirectional: bidirectional), RecurrentCell.RnnTanh),
        _ => (nn.RNN(Features, Hidden, layers, nn.NonLinearities.ReLU, batchFirst: true, bidirectional: bidirectional), RecurrentCell.RnnRelu),
    };

    /// <summary>Output [N, T, dirs·H] and the last layer's final state [N, dirs·H].</summary>
    private static (Tensor Y, Tensor H) RunTorch(nn.Module module, Tensor x, int layers, bool bidirectional)
    {
        Tensor y, hn;
        switch (module)
        {
            case TorchSharp.Modules.LSTM lstm: (y, hn, _) = lstm.call(x, null); break;
            case TorchSharp.Modules.GRU gru: (y, hn) = gru.call(x, null); break;
            case TorchSharp.Modules.RNN rnn: (y, hn) = rnn.call(x, null); break;
            default: throw new InvalidOperationException();
        }
        int dirs = bidirectional ? 2 : 1;
        var last = hn[((layers - 1) * dirs)..(layers * dirs)]; // [dirs, N, H]
        return (y, last.permute(1, 0, 2).reshape(x.shape[0], dirs * Hidden));
    }

    /// <summary>X [N, T, F] (batch-first like the module) → the recurrent layers → Y [N, T, dirs·H], H [N, dirs·H].</summary>
    private static byte[] Build(nn.Module module, RecurrentCell cell, int layers, bool bidirectional, bool withLengths)
    {
        var g = new OnnxGraphBuilder(17);
        g.Reserve("X"); g.Reserve("Y"); g.Reserve("H");
        g.Graph.Inputs.Add(new ValueInfoProto { Name = "X", ElemType = OnnxDataType.Float, Shape = new List<object> { "N", "T", (long)Features } });
        string? lengths = null;
        if (withLengths)
        {
            lengths = g.Reserve("lengths");
            g.Graph.Inputs.Add(new ValueInfoProto { Name = lengths, ElemType = OnnxDataType.Int32, Shape = new List<object> { "N" } });
        }
        var seqMajor = g.Node("Transpose", new[] { "X" }, "x_t", Ints("perm", 1, 0, 2));
        var (seq, state) = RecurrentOnnx.Emit(g, module, cell, seqMajor, lengths, Hidden, layers, bidirectional, "rnn", "test layer");
        g.Node("Transpose", new[] { seq }, new[] { "Y" }, Ints("perm", 1, 0, 2));
        g.Node("Identity", new[] { state }, new[] { "H" });
        int dirs = bidirectional ? 2 : 1;
        g.Graph.Outputs.Add(new ValueInfoProto { Name = "Y", ElemType = OnnxDataType.Float, Shape = new List<object> { "N", "T", (long)(dirs * Hidden) } });
        g.Graph.Outputs.Add(new ValueInfoProto { Name = "H", ElemType = OnnxDataType.Float, Shape = new List<object> { "N", (long)(dirs * Hidden) } });
        var model = new ModelProto { IrVersion = 8, ProducerName = "MLNetDeep.Tests", Graph = g.Graph };
        model.OpsetImport.Add(new OperatorSetIdProto("", 17));
        return ProtoWriter.Serialize(model);
    }

    private static DenseTensor<float> ToOnnx(Tensor x) =>
        new(x.contiguous().data<float>().ToArray(), x.shape.Select(d => (int)d).ToArray());

    private static void AssertClose(Tensor expected, Microsoft.ML.OnnxRuntime.Tensors.Tensor<float> actual)
    {
        var e = expected.contiguous().data<float>().ToArray();
        var a = actual.ToArray();
        Assert.Equal(e.Length, a.Length);
        double max = e.Zip(a).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(max <= 1e-5, $"max abs diff {max}");
    }
}
