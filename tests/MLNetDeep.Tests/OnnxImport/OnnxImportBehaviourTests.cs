using MLNetDeep.Onnx;
using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport;
using Xunit;
using Xunit.Abstractions;
using static MLNetDeep.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.OnnxImport;

/// <summary>
/// The importer on small graphs written with MLNetDeep's own ONNX writer: blocks of an MLP and freezing by prefix,
/// inputs and outputs (several inputs, an intermediate input, dynamic batch where the file hard-codes batch 1),
/// memory, and every error: not ONNX, opset, unsupported operator or domain, missing value, cycle, bad input,
/// external data, a LibTorch failure.
/// </summary>
public sealed class OnnxImportBehaviourTests
{
    private readonly ITestOutputHelper _out;
    public OnnxImportBehaviourTests(ITestOutputHelper output) => _out = output;

    private static MemoryStream Write(OnnxGraphBuilder g, long opset = 13)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "test", Graph = g.Graph };
        model.OpsetImport.Add(opset > 0 ? new OperatorSetIdProto("", opset) : new OperatorSetIdProto("com.example", 1));
        return new MemoryStream(ProtoWriter.Serialize(model));
    }

    private static ValueInfoProto Value(string name, params object[] shape) => new() { Name = name, ElemType = OnnxDataType.Float, Shape = shape.ToList() };

    private static float[] Random(int n, int seed)
    {
        var r = new System.Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray();
    }

    /// <summary>x [N, 8] → Gemm 16 → Relu → Gemm 8 → Relu → Gemm 3 → Softmax.</summary>
    private static OnnxGraphBuilder Mlp()
    {
        var g = new OnnxGraphBuilder(13);
        g.Graph.Inputs.Add(Value("x", "N", 8L));
        string h = "x";
        int width = 8, seed = 0;
        foreach (var (size, i) in new[] { 16, 8, 3 }.Select((s, i) => (s, i)))
        {
            var w = g.Initializer($"fc{i}.weight", Random(size * width, seed++), size, width);
            var b = g.Initializer($"fc{i}.bias", Random(size, seed++), size);
            h = g.Node("Gemm", new[] { h, w, b }, $"fc{i}", Int("transB", 1));
            h = i < 2 ? g.Node("Relu", new[] { h }, $"relu{i}") : g.Node("Softmax", new[] { h }, new[] { "probabilities" }, Int("axis", 1))[0];
            width = size;
        }
        g.Graph.Outputs.Add(Value("probabilities", "N", 3L));
        return g;
    }

    [Fact]
    public void Mlp_HasOneBlockPerLayer_AndFreezingByPrefixKeepsThoseWeights()
    {
        using var net = OnnxNetwork.Load(Write(Mlp()));
        Assert.Equal(3, net.Blocks.Count);
        Assert.Equal(new[] { "Gemm", "Relu" }, net.Blocks[0].OperatorTypes);
        Assert.Equal(new[] { "Gemm", "Softmax" }, net.Blocks[2].OperatorTypes);
        Assert.Equal(new[] { "block0.fc0_weight", "block0.fc0_bias", "block1.fc1_weight", "block1.fc1_bias", "block2.fc2_weight", "block2.fc2_bias" },
            net.named_parameters().Select(p => p.name));
        Assert.Equal("block1.fc1_weight", net.ParameterNames["fc1.weight"]);
        using (var unmerged = OnnxNetwork.Load(Write(Mlp()), new OnnxImportOptions { MergeSmallBlocks = false }))
            Assert.Equal(6, unmerged.Blocks.Count);

        // the values match a plain TorchSharp computation of the same weights
        var x = tensor(Random(5 * 8, 42), new long[] { 5, 8 });
        using (no_grad())
        {
            var p = net.named_parameters().ToDictionary(t => t.name, t => t.parameter);
            var h = nn.functional.relu(nn.functional.linear(x, p["block0.fc0_weight"], p["block0.fc0_bias"]));
            h = nn.functional.relu(nn.functional.linear(h, p["block1.fc1_weight"], p["block1.fc1_bias"]));
            var expected = nn.functional.linear(h, p["block2.fc2_weight"], p["block2.fc2_bias"]).softmax(1);
            Assert.True((net.forward(x) - expected).abs().max().item<float>() < 1e-6f);
        }

        // freeze block0 by prefix, train: block0 stays, the others move
        foreach (var (name, p) in net.named_parameters()) p.requires_grad = !name.StartsWith("block0.", StringComparison.Ordinal);
        var before = net.named_parameters().ToDictionary(t => t.name, t => t.parameter.detach().clone());
        var optimizer = optim.SGD(net.parameters().Where(p => p.requires_grad), 0.5);
        var target = tensor(new long[] { 0, 1, 2, 0, 1 });
        for (int i = 0; i < 3; i++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.nll_loss(net.forward(x).log(), target).backward();
            optimizer.step();
        }
        foreach (var (name, p) in net.named_parameters())
        {
            bool moved = (p - before[name]).abs().max().item<float>() > 0;
            Assert.True(moved == !name.StartsWith("block0.", StringComparison.Ordinal), $"{name} moved: {moved}");
        }
    }

    /// <summary>x [N, 2, 6, 6] → Conv 4×3×3 (bias) → BatchNormalization → Relu → GlobalAveragePool → Flatten → Gemm 3.</summary>
    private static OnnxGraphBuilder ConvBn()
    {
        var g = new OnnxGraphBuilder(13);
        g.Graph.Inputs.Add(Value("x", "N", 2L, 6L, 6L));
        var conv = g.Node("Conv", new[] { "x", g.Initializer("w", Random(4 * 2 * 9, 7), 4, 2, 3, 3), g.Initializer("b", Random(4, 8), 4) }, "conv", Ints("pads", 1, 1, 1, 1));
        var bn = g.Node("BatchNormalization", new[] { conv, g.Initializer("gamma", Random(4, 9).Select(v => v + 1).ToArray(), 4), g.Initializer("beta", Random(4, 10), 4),
            g.Initializer("mean", Random(4, 11), 4), g.Initializer("var", Random(4, 12).Select(v => v + 1).ToArray(), 4) }, "bn", Float("epsilon", 1e-3f));
        var pooled = g.Node("GlobalAveragePool", new[] { g.Node("Relu", new[] { bn }, "relu") }, "gap");
        var flat = g.Node("Flatten", new[] { pooled }, "flat", Int("axis", 1));
        g.Node("Gemm", new[] { flat, g.Initializer("fc", Random(12, 13), 3, 4) }, new[] { "y" }, Int("transB", 1));
        g.Graph.Outputs.Add(Value("y", "N", 3L));
        return g;
    }

    [Fact]
    public void ConvThenBatchNorm_FoldedInEvalMode_MatchesBothNodesRunSeparately()
    {
        using var net = OnnxNetwork.Load(Write(ConvBn()));
        net.eval();
        var x = tensor(Random(3 * 2 * 36, 21), new long[] { 3, 2, 6, 6 });
        using var _ = no_grad();
        Tensor P(string onnxName) => net.get_parameter(net.ParameterNames[onnxName]);
        Tensor B(string onnxName) => net.get_buffer(net.ParameterNames[onnxName]);
        var conv = nn.functional.conv2d(x, P("w"), P("b"), padding: new long[] { 1, 1 });
        var bn = nn.functional.batch_norm(conv, B("mean"), B("var"), P("gamma"), P("beta"), false, 0.1, 1e-3);
        var expected = nn.functional.linear(bn.relu().mean(new long[] { 2, 3 }), P("fc"));
        Assert.True((net.forward(x) - expected).abs().max().item<float>() < 1e-5f);
    }

    /// <summary>x [T = 5, N, 3] → bidirectional LSTM (hidden 4) with sequence lengths → Y_h.</summary>
    private static OnnxGraphBuilder Lstm()
    {
        var g = new OnnxGraphBuilder(13);
        g.Graph.Inputs.Add(Value("x", 5L, "N", 3L));
        g.Graph.Inputs.Add(new ValueInfoProto { Name = "lengths", ElemType = OnnxDataType.Int32, Shape = new() { "N" } });
        g.Graph.Nodes.Add(new NodeProto
        {
            OpType = "LSTM", Name = "lstm",
            Inputs = { "x", g.Initializer("W", Random(2 * 16 * 3, 30), 2, 16, 3), g.Initializer("R", Random(2 * 16 * 4, 31), 2, 16, 4), g.Initializer("B", Random(2 * 32, 32), 2, 32), "lengths" },
            Outputs = { "", "y_h" },
            Attributes = { Int("hidden_size", 4), String("direction", "bidirectional") },
        });
        g.Graph.Outputs.Add(Value("y_h", 2L, "N", 4L));
        return g;
    }

    [Fact]
    public void ManyForwardCalls_LeaveNoLiveTensorsBehind()
    {
        using var net = OnnxNetwork.Load(Write(Mlp()));
        using var conv = OnnxNetwork.Load(Write(ConvBn()));
        using var lstm = OnnxNetwork.Load(Write(Lstm()));
        using var x = tensor(Random(4 * 8, 1), new long[] { 4, 8 });
        using var image = tensor(Random(4 * 72, 2), new long[] { 4, 2, 6, 6 });
        using var steps = tensor(Random(5 * 4 * 3, 3), new long[] { 5, 4, 3 });
        using var lengths = tensor(new[] { 5, 3, 1, 4 });
        net.eval();
        conv.eval();
        using (no_grad())
        {
            net.forward(x).Dispose();
            conv.forward(image).Dispose();
            foreach (var t in lstm.ForwardAll(steps, lengths)) t.Dispose();
        }
        long before = Tensor.TotalCount;
        using (no_grad())
            for (int i = 0; i < 50; i++)
            {
                using var y = net.forward(x);
                using var part = net.ForwardBlocks(x, 0, 2);
                using var rest = net.ForwardBlocks(part, 2, 3);
                using var z = conv.forward(image);
                foreach (var t in lstm.ForwardAll(steps, lengths)) t.Dispose();
            }
        Assert.Equal(before, Tensor.TotalCount);
        net.train();
        for (int i = 0; i < 20; i++)
        {
            using var scope = NewDisposeScope();
            net.forward(x).sum().backward();
        }
        foreach (var p in net.parameters()) p.grad?.Dispose();
        GC.Collect();
        _out.WriteLine($"live tensors: {before} before, {Tensor.TotalCount} after training steps");
        Assert.True(Tensor.TotalCount <= before + net.parameters().Count(), $"{Tensor.TotalCount - before} more live tensors");
    }

    [Fact]
    public void SeveralInputs_ForwardAll_InputName_AndAnIntermediateInput()
    {
        var g = new OnnxGraphBuilder(13);
        g.Graph.Inputs.Add(Value("a", "N", 4L));
        g.Graph.Inputs.Add(Value("b", "N", 4L));
        var sum = g.Node("Add", new[] { "a", "b" }, "sum");
        var relu = g.Node("Relu", new[] { sum }, "relu");
        g.Node("Mul", new[] { relu, g.FloatConstant("two", 2f) }, new[] { "y" });
        g.Node("Neg", new[] { "a" }, new[] { "minus_a" });
        g.Graph.Outputs.Add(Value("y", "N", 4L));
        g.Graph.Outputs.Add(Value("minus_a", "N", 4L));
        var a = tensor(new float[] { 1, -2, 3, -4 }).reshape(1, 4);
        var b = tensor(new float[] { 0.5f, 1, -5, 1 }).reshape(1, 4);

        using var both = OnnxNetwork.Load(Write(g), new OnnxImportOptions { OutputNames = new[] { "y", "minus_a" } });
        Assert.Equal(new[] { "a", "b" }, both.InputNames);
        var outs = both.ForwardAll(a, b);
        Assert.Equal(new float[] { 3, 0, 0, 0 }, outs[0].data<float>().ToArray());
        Assert.Equal(new float[] { -1, 2, -3, 4 }, outs[1].data<float>().ToArray());
        var e = Assert.Throws<InvalidOperationException>(() => both.forward(a));
        Assert.Contains("has 2 inputs (a, b); call ForwardAll", e.Message);
        Assert.Contains("takes 2 inputs (a, b). Received: 1", Assert.Throws<ArgumentException>(() => both.ForwardAll(a)).Message);

        using var onlyA = OnnxNetwork.Load(Write(g), new OnnxImportOptions { OutputName = "minus_a", InputName = "a" });
        Assert.Equal(new float[] { -1, 2, -3, 4 }, onlyA.forward(a).data<float>().ToArray());
        var needsB = Assert.Throws<OnnxImportException>(() => OnnxNetwork.Load(Write(g), new OnnxImportOptions { InputName = "a" }));
        Assert.Contains("need graph input(s) 'b' as well as InputName 'a'", needsB.Message);

        using var fromRelu = OnnxNetwork.Load(Write(g), new OnnxImportOptions { InputName = "relu" });
        Assert.Equal(new[] { "relu" }, fromRelu.InputNames);
        Assert.Equal(new float[] { 2, 4 }, fromRelu.forward(tensor(new float[] { 1, 2 }).reshape(1, 2)).data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => OnnxNetwork.Load(Write(g), new OnnxImportOptions { OutputName = "y", OutputNames = new[] { "y" } }));
    }

    [Fact]
    public void FixedBatchOfOne_InTheFileAndInReshape_RunsAnyBatchSize()
    {
        var g = new OnnxGraphBuilder(13);
        g.Graph.Inputs.Add(Value("x", 1L, 2L, 3L));
        var flat = g.Node("Reshape", new[] { "x", g.Int64Constant("shape", new long[] { 1, 6 }, 2) }, "flat");
        g.Node("Relu", new[] { flat }, new[] { "y" });
        g.Graph.Outputs.Add(Value("y", 1L, 6L));
        using var net = OnnxNetwork.Load(Write(g));
        Assert.Equal(new long?[] { 1, 2, 3 }, net.InputShapes[0]);
        var x = arange(4 * 6, ScalarType.Float32).reshape(4, 2, 3) - 10;
        var y = net.forward(x);
        Assert.Equal(new long[] { 4, 6 }, y.shape);
        Assert.Equal(x.reshape(4, 6).relu().data<float>().ToArray(), y.data<float>().ToArray());
        var wrong = Assert.Throws<ArgumentException>(() => net.forward(zeros(4, 3, 3)));
        Assert.Contains("Input 'x' has shape [1, 2, 3]: dimension 1 must be 2. Received: [4, 3, 3]", wrong.Message);
        Assert.Contains("(rank 3). Received: [4, 6] (rank 2)", Assert.Throws<ArgumentException>(() => net.forward(zeros(4, 6))).Message);
        Assert.Contains("takes Float32 tensors. Received: Float64", Assert.Throws<ArgumentException>(() => net.forward(zeros(new long[] { 4, 2, 3 }, ScalarType.Float64))).Message);
    }

    public static TheoryData<string, string> BadModels => new()
    {
        { "not onnx", "is not a valid ONNX model" },
        { "no default opset", "The model imports no version of the default ONNX operator set" },
        { "opset 24", "The model uses ONNX opset 24" },
        { "unsupported op", "Cannot import node 'resize_node' (Resize, opset 13): the importer does not support this operator. Unsupported in this graph: Resize (1 node). Supported: Abs, Add," },
        { "other domain", "Cannot import node 'fused' (FusedConv of domain 'com.microsoft', opset 13)" },
        { "missing value", "Node 'relu_node' (Relu) reads 'ghost', which no node, initializer or graph input provides." },
        { "cycle", "The graph has a cycle: these nodes wait on each other: 'first' (Relu), 'second' (Relu)" },
        { "external data", "Initializer 'w': Tensor 'w' keeps its values in an external file (location 'w.bin')" },
        { "bad attribute", "Cannot import node 'pool' (AveragePool, opset 19): dilations = [2, 2] is not supported (1 only for this operator)." },
        { "string output", "The network output 'labels' holds strings" },
    };

    [Theory]
    [MemberData(nameof(BadModels))]
    public void BadModels_FailWithAMessageThatNamesTheProblem(string what, string expected)
    {
        var g = new OnnxGraphBuilder(13);
        g.Graph.Inputs.Add(Value("x", "N", 1L, 4L, 4L));
        long opset = 13;
        switch (what)
        {
            case "not onnx":
            {
                var e0 = Assert.Throws<OnnxImportException>(() => OnnxNetwork.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes("<xml>not a model</xml>"))));
                Assert.Contains(expected, e0.Message);
                return;
            }
            case "no default opset": opset = 0; g.Node("Relu", new[] { "x" }, new[] { "y" }); break;
            case "opset 24": opset = 24; g.Node("Relu", new[] { "x" }, new[] { "y" }); break;
            case "unsupported op":
                g.Graph.Nodes.Add(new NodeProto { OpType = "Resize", Name = "resize_node", Inputs = { "x", "", g.Initializer("scales", new float[] { 1, 1, 2, 2 }, 4) }, Outputs = { "y" } });
                break;
            case "other domain":
                g.Graph.Nodes.Add(new NodeProto { OpType = "FusedConv", Domain = "com.microsoft", Name = "fused", Inputs = { "x" }, Outputs = { "y" } });
                break;
            case "missing value":
                g.Graph.Nodes.Add(new NodeProto { OpType = "Relu", Name = "relu_node", Inputs = { "ghost" }, Outputs = { "y" } });
                break;
            case "cycle":
                g.Graph.Nodes.Add(new NodeProto { OpType = "Relu", Name = "first", Inputs = { "b" }, Outputs = { "a" } });
                g.Graph.Nodes.Add(new NodeProto { OpType = "Relu", Name = "second", Inputs = { "a" }, Outputs = { "b" } });
                g.Graph.Nodes.Add(new NodeProto { OpType = "Add", Name = "out", Inputs = { "x", "b" }, Outputs = { "y" } });
                break;
            case "external data":
                g.Graph.Initializers.Add(new TensorProto { Name = "w", DataType = OnnxDataType.Float, Dims = { 2, 1, 3, 3 }, DataLocation = 1, ExternalData = { ("location", "w.bin") } });
                g.Node("Conv", new[] { "x", "w" }, new[] { "y" });
                break;
            case "bad attribute":
                opset = 19;
                g.Graph.Nodes.Add(new NodeProto { OpType = "AveragePool", Name = "pool", Inputs = { "x" }, Outputs = { "y" },
                    Attributes = { Ints("kernel_shape", 2, 2), Ints("dilations", 2, 2) } });
                break;
            case "string output":
                g.Node("Relu", new[] { "x" }, new[] { "y" });
                g.Graph.Outputs.Add(new ValueInfoProto { Name = "labels", ElemType = OnnxDataType.String, Shape = new() { "N" } });
                g.Graph.Nodes.Add(new NodeProto { OpType = "Cast", Name = "to_text", Inputs = { "y" }, Outputs = { "labels" }, Attributes = { Int("to", (long)OnnxDataType.String) } });
                break;
        }
        if (g.Graph.Outputs.Count == 0) g.Graph.Outputs.Add(Value("y", "N", 1L, 4L, 4L));
        var options = what == "string output" ? new OnnxImportOptions { OutputName = "labels" } : null;
        var e = Assert.Throws<OnnxImportException>(() => OnnxNetwork.Load(Write(g, opset), options));
        _out.WriteLine($"{what}: {e.Message}");
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void LibTorchFailures_AreReportedWithTheNodeAndShapes()
    {
        var g = new OnnxGraphBuilder(13);
        g.Graph.Inputs.Add(Value("x", "N", "F"));
        g.Node("MatMul", new[] { "x", g.Initializer("w", Random(12, 3), 4, 3) }, new[] { "y" });
        g.Graph.Outputs.Add(Value("y", "N", 3L));
        using var net = OnnxNetwork.Load(Write(g));
        Assert.Equal(new long[] { 2, 3 }, net.forward(ones(2, 4)).shape);
        var e = Assert.Throws<InvalidOperationException>(() => net.forward(ones(2, 5)));
        _out.WriteLine(e.Message);
        Assert.StartsWith("Node 'MatMul_y' (MatMul) failed on inputs of shapes [2, 5], [4, 3]: the last dimension of A (5) must equal the second-last dimension of B (4).", e.Message);

        // an error LibTorch itself reports (a convolution over too few channels) comes wrapped the same way
        var c = new OnnxGraphBuilder(13);
        c.Graph.Inputs.Add(Value("x", "N", "C", 5L, 5L));
        c.Node("Conv", new[] { "x", c.Initializer("w", Random(2 * 3 * 9, 4), 2, 3, 3, 3) }, new[] { "y" }, Ints("kernel_shape", 3, 3));
        c.Graph.Outputs.Add(Value("y", "N", 2L, 3L, 3L));
        using var conv = OnnxNetwork.Load(Write(c));
        var ce = Assert.Throws<InvalidOperationException>(() => conv.forward(ones(1, 2, 5, 5)));
        _out.WriteLine(ce.Message);
        Assert.StartsWith("Node 'Conv_y' (Conv) failed on inputs of shapes [1, 2, 5, 5], [2, 3, 3, 3]:", ce.Message);
        Assert.IsType<System.Runtime.InteropServices.ExternalException>(ce.InnerException);
    }
}
