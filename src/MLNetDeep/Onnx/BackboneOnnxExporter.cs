using MLNetDeep.Models;
using MLNetDeep.Models.Backbones;
using MLNetDeep.Onnx.Proto;
using MLNetDeep.OnnxImport;
using static MLNetDeep.Onnx.OnnxGraphBuilder;

namespace MLNetDeep.Onnx;

/// <summary>
/// Writes a <see cref="BackboneArchitecture"/> network: the reshape to N×C×H×W, the preprocessing (grey repeated,
/// scale, channel reorder, mean, 1/std), the backbone's own nodes with the trained weights as initializers (rewritten
/// for the export opset where an operator changed), pooling and the dense head — one graph.
/// </summary>
internal sealed class BackboneOnnxExporter : OnnxNetworkExporter
{
    public override Type ArchitectureType => typeof(BackboneArchitecture);

    public override IReadOnlyList<object> InputDims(NetworkArchitecture architecture) =>
        new object[] { ((BackboneArchitecture)architecture).ImageShape.Size };

    public override string Emit(OnnxExportContext ctx, string input)
    {
        var arch = (BackboneArchitecture)ctx.Architecture;
        var network = (BackboneNetwork)ctx.Network;
        var g = ctx.Graph;
        var s = arch.ImageShape;
        string x = g.Node("Reshape", new[] { input, g.Int64Constant("image_shape", new long[] { -1, s.Channels, s.Height, s.Width }, 4) }, "image");

        var pre = ctx.Module<PixelPreprocess>("preprocess", "the backbone's preprocessing");
        if (s.Channels == 1 && arch.BackboneChannels != 1)
            x = g.Node("Concat", Enumerable.Repeat(x, arch.BackboneChannels).ToArray(), "image_channels", Int("axis", 1));
        if (pre.Order is { } order)
            x = g.Node("Gather", new[] { x, g.Int64Constant("channel_order", order, order.Length) }, "image_reordered", Int("axis", 1));
        if (pre.Scale != 1f) x = g.Node("Mul", new[] { x, g.FloatConstant("pixel_scale", pre.Scale) }, "image_scaled");
        x = g.Node("Sub", new[] { x, g.Initializer("preprocess_mean", pre.Mean) }, "image_centred");
        if (pre.InverseStd.ne(1f).any().item<bool>())
            x = g.Node("Mul", new[] { x, g.Initializer("preprocess_inv_std", pre.InverseStd) }, "image_normalised");

        x = EmitBackbone(ctx, arch, network.Backbone, x);
        x = arch.BlockOutputShapes[^1].Length == 3 && arch.Pooling == Models.Cnn.FlattenMode.GlobalAveragePool
            ? g.Node("Flatten", new[] { g.Node("GlobalAveragePool", new[] { x }, "backbone_pool") }, "features", Int("axis", 1))
            : g.Node("Flatten", new[] { x }, "features", Int("axis", 1));
        var raw = OnnxLayers.DenseHead(ctx, arch.Head, x);
        ctx.CheckAllParametersUsed();
        return raw;
    }

    /// <summary>The backbone's nodes from its saved graph, reading <paramref name="input"/>; the trained state replaces the file's weights.</summary>
    private static string EmitBackbone(OnnxExportContext ctx, BackboneArchitecture arch, OnnxNetwork body, string input)
    {
        var g = ctx.Graph;
        long from = arch.Opset, to = g.Opset;
        string layer = $"the {arch.BackboneName} backbone";
        if (from > to)
            throw new OnnxExportException(layer, $"its graph uses opset {from}; export with OnnxExportOptions.Opset = {from} or higher.");
        for (int b = 0; b < body.Blocks.Count; b++) ctx.Module<OnnxBlock>($"{ModulePaths.Body}.{ModulePaths.BlockName(b)}", layer);
        var state = body.state_dict();
        var graph = ModelProto.Parse(arch.Graph).Graph;
        var names = new Dictionary<string, string>(StringComparer.Ordinal) { [arch.InputName] = input, [""] = "" };
        string Name(string v) => names.TryGetValue(v, out var n) ? n : names[v] = g.Unique($"{arch.BackboneName}/{v}");
        foreach (var t in graph.Initializers)
        {
            if (t.Name == arch.InputName) continue;
            var name = Name(t.Name);
            if (body.ParameterNames.TryGetValue(t.Name, out var module) && state.TryGetValue(module, out var value))
            {
                using var cpu = value.detach().cpu().contiguous();
                if (cpu.dtype == TorchSharp.torch.ScalarType.Float32)
                {
                    g.Graph.Initializers.Add(TensorProto.FromFloats(name, cpu.data<float>().ToArray(), cpu.shape));
                    continue;
                }
                throw new OnnxExportException(layer, $"its weight '{t.Name}' is {cpu.dtype}; only float32 weights are exported.");
            }
            g.Graph.Initializers.Add(new TensorProto
            {
                Name = name, DataType = t.DataType, Dims = t.Dims.ToList(), RawData = t.RawData, FloatData = t.FloatData, Int32Data = t.Int32Data,
                Int64Data = t.Int64Data, DoubleData = t.DoubleData, UInt64Data = t.UInt64Data, StringData = t.StringData,
            });
        }
        foreach (var node in graph.Nodes)
        {
            var (op, inputs, outputs, attributes) = ForOpset(node, from, to, layer);
            g.Node(op, inputs.Select(Name).ToArray(), outputs.Select(Name).ToArray(), attributes.ToArray());
        }
        return Name(arch.OutputName);
    }

    /// <summary>Operators whose meaning for float tensors is the same in every opset from the one given to 23.</summary>
    private static readonly Dictionary<string, int> StableSince = new(StringComparer.Ordinal)
    {
        ["Conv"] = 1, ["ConvTranspose"] = 1, ["Relu"] = 1, ["LeakyRelu"] = 1, ["Sigmoid"] = 1, ["Tanh"] = 1, ["Elu"] = 1, ["Selu"] = 1,
        ["Softplus"] = 1, ["Softsign"] = 1, ["HardSigmoid"] = 1, ["HardSwish"] = 14, ["PRelu"] = 7, ["Erf"] = 9,
        ["Add"] = 7, ["Sub"] = 7, ["Mul"] = 7, ["Div"] = 7, ["Pow"] = 7, ["Sum"] = 8, ["Max"] = 8, ["Min"] = 8, ["Mean"] = 8,
        ["Abs"] = 1, ["Neg"] = 1, ["Exp"] = 1, ["Log"] = 1, ["Sqrt"] = 1, ["Reciprocal"] = 1, ["Floor"] = 1, ["Ceil"] = 1,
        ["MaxPool"] = 1, ["AveragePool"] = 7, ["GlobalAveragePool"] = 1, ["GlobalMaxPool"] = 1, ["LRN"] = 1,
        ["Concat"] = 4, ["Flatten"] = 1, ["Gemm"] = 7, ["MatMul"] = 1, ["Identity"] = 1, ["Transpose"] = 1, ["Reshape"] = 5,
        ["Shape"] = 1, ["Gather"] = 1, ["Cast"] = 6, ["Constant"] = 1, ["Clip"] = 11, ["Pad"] = 11, ["Squeeze"] = 13, ["Unsqueeze"] = 13,
        ["Softmax"] = 13, ["LogSoftmax"] = 13, ["Split"] = 13, ["Slice"] = 10, ["ReduceSum"] = 13, ["Expand"] = 8, ["Tile"] = 6,
        ["InstanceNormalization"] = 6,
    };

    /// <summary>A node as the export opset writes it; throws naming the node when MLNetDeep can't rewrite it.</summary>
    private static (string Op, List<string> Inputs, List<string> Outputs, List<AttributeProto> Attributes) ForOpset(NodeProto node, long from, long to, string layer)
    {
        string label = node.Name.Length > 0 ? $"node '{node.Name}' ({node.OpType})" : $"a {node.OpType} node";
        if (node.Domain is not ("" or "ai.onnx"))
            throw new OnnxExportException(layer, $"{label} is of domain '{node.Domain}'.");
        var attributes = node.Attributes.ToList();
        switch (node.OpType)
        {
            case "BatchNormalization":
                // opset 9 dropped 'spatial' (1 = per channel, the only meaning since); 'is_test' and 'consumed_inputs' went earlier
                if (attributes.FirstOrDefault(a => a.Name == "spatial") is { I: 0 })
                    throw new OnnxExportException(layer, $"{label} normalises per element (spatial = 0), which opset 9 and later can't express.");
                attributes.RemoveAll(a => a.Name is "spatial" or "is_test" or "consumed_inputs");
                if (node.Outputs.Skip(1).Any(o => o.Length > 0) && to >= 14)
                    return ("BatchNormalization", node.Inputs.ToList(), node.Outputs.Take(1).ToList(), attributes);
                return ("BatchNormalization", node.Inputs.ToList(), node.Outputs.ToList(), attributes);
            case "Dropout":
                return ("Identity", node.Inputs.Take(1).ToList(), node.Outputs.Take(1).ToList(), new List<AttributeProto>());
        }
        bool reduction = node.OpType is "ReduceMean" or "ReduceMax" or "ReduceMin" or "ReduceProd";
        if (reduction && (from >= 18) == (to >= 18) && from >= 13) return (node.OpType, node.Inputs.ToList(), node.Outputs.ToList(), attributes);
        if (StableSince.TryGetValue(node.OpType, out var since) && from >= since)
            return (node.OpType, node.Inputs.ToList(), node.Outputs.ToList(), attributes);
        throw new OnnxExportException(layer,
            $"{label} is written for opset {from}, and MLNetDeep can't rewrite this operator for opset {to}. Convert the backbone to opset {to} " +
            $"first (e.g. in Python: onnx.version_converter.convert_version(model, {to})).");
    }
}
