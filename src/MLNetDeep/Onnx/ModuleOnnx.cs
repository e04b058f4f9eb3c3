using A = MLNetDeep.Activations;
using TorchSharp;
using TorchSharp.Modules;
using static MLNetDeep.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace MLNetDeep.Onnx;

/// <summary>
/// Writes a user's TorchSharp module tree as ONNX nodes by walking it: <c>nn.Sequential</c> containers (children in
/// order) of standard layers — Linear, Conv1d/Conv2d, BatchNorm1d/2d, max/average pooling, adaptive average pooling to 1,
/// Flatten, the dropouts (identity at inference), Identity and the usual activations. Each module is matched by its exact
/// type (a subclass may change <c>forward</c>), and a one-row probe runs through the real modules alongside, so every
/// node is emitted for the shape the module actually sees. Anything else is refused with the module's path and type.
/// Module types the walker does not know can plug in an emitter (<see cref="RegisterEmitter{TModule}"/>), e.g. imported networks.
/// </summary>
internal static class ModuleOnnx
{
    /// <summary>Emits a module of a type the walker doesn't know: from the value <c>x</c> to the returned value's name.</summary>
    internal delegate string Emitter(OnnxExportContext context, nn.Module<Tensor, Tensor> module, string path, string x);

    private static readonly Dictionary<Type, Emitter> Emitters = new();

    /// <summary>The layers the walker writes, for messages.</summary>
    internal const string Exportable =
        "Sequential, Linear, Conv1d, Conv2d, BatchNorm1d, BatchNorm2d, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d/2d(1), " +
        "Flatten, Dropout, Dropout1d, Dropout2d, AlphaDropout, Identity, ReLU, ReLU6, LeakyReLU, ELU, SELU, GELU, Sigmoid, Tanh, Softplus, SiLU, Hardswish, " +
        "Softmax, LogSoftmax";

    /// <summary>Adds (or replaces) the emitter of modules of exactly type <typeparamref name="TModule"/>.</summary>
    public static void RegisterEmitter<TModule>(Emitter emitter) where TModule : nn.Module<Tensor, Tensor>
    {
        lock (Emitters) Emitters[typeof(TModule)] = emitter;
    }

    /// <summary>
    /// Emits <paramref name="module"/> (at <paramref name="path"/> in the network) from the value <paramref name="x"/>, whose
    /// one-row counterpart is <paramref name="probe"/>; returns the output's name and advances the probe through the module.
    /// </summary>
    public static string Emit(OnnxExportContext ctx, nn.Module<Tensor, Tensor> module, string path, string x, ref Tensor probe)
    {
        if (module is Sequential s && s.GetType() == typeof(Sequential)) return EmitSequential(ctx, s, path, x, ref probe);
        var input = probe;
        probe = module.call(input); // the module's real output on one row (eval mode, no_grad): the shape each node is written for
        string label = Label(path, module);
        string hint = Hint(path);
        var g = ctx.Graph;
        switch (module)
        {
            case Linear:
                return input.dim() == 2 ? OnnxLayers.Dense(ctx, path, null, x, label, hint) : LinearMatMul(ctx, path, x, label, hint);
            case Conv1d or Conv2d:
                return OnnxLayers.Conv(ctx, path, null, x, label, hint, default);
            case BatchNorm1d or BatchNorm2d:
                return OnnxLayers.BatchNormNode(ctx, path, x, label, hint);
            case MaxPool1d p:
                return Pool(g, "MaxPool", x, hint, label, new[] { p.kernel_size }, p.stride is long ms ? new[] { ms } : null,
                    p.padding is long mp ? new[] { mp } : null, p.dilation is long md ? new[] { md } : null, p.ceil_mode, countIncludePad: false);
            case MaxPool2d p:
                return Pool(g, "MaxPool", x, hint, label, p.kernel_size, p.stride, p.padding, p.dilation, p.ceil_mode, countIncludePad: false);
            case AvgPool1d p:
                return Pool(g, "AveragePool", x, hint, label, new[] { p.kernel_size }, p.stride is long s1 ? new[] { s1 } : null,
                    p.padding is long p1 ? new[] { p1 } : null, null, p.ceil_mode, p.count_include_pad);
            case AvgPool2d p:
                if (p.divisor_override is not null)
                    throw new OnnxExportException(label, $"divisor_override={p.divisor_override} has no ONNX AveragePool equivalent.");
                return Pool(g, "AveragePool", x, hint, label, p.kernel_size, p.stride, p.padding, null, p.ceil_mode, p.count_include_pad);
            case AdaptiveAvgPool1d or AdaptiveAvgPool2d:
                if (probe.shape.Skip(2).Any(d => d != 1))
                    throw new OnnxExportException(label, "adaptive average pooling is exported to an output size of 1 only (global average pooling). " +
                                                         $"Its output here is [{string.Join(", ", probe.shape)}].");
                return g.Node("GlobalAveragePool", new[] { x }, hint);
            case Flatten f:
                return FlattenNode(g, f, x, input, probe, hint, label);
            case Dropout or Dropout1d or Dropout2d or AlphaDropout or TorchSharp.Modules.Identity:
                return x; // the identity at inference
            case LogSoftmax ls:
                return g.Node("LogSoftmax", new[] { x }, hint, Int("axis", ls.dim < 0 ? ls.dim + input.dim() : ls.dim));
            case Softmax sm:
                return g.Node("Softmax", new[] { x }, hint, Int("axis", sm.dim < 0 ? sm.dim + input.dim() : sm.dim));
            case ReLU6:
                return g.Node("Clip", new[] { x, g.FloatConstant("zero", 0f), g.FloatConstant("six", 6f) }, hint);
            case Hardswish:
                return g.Node("HardSwish", new[] { x }, hint);
            case GELU { approximate: GELU.Approximate.tanh }:
                return TanhGelu(g, x, hint);
            case Softplus sp when sp.beta != 1:
            {
                // softplus(β·x) / β (ONNX Softplus has no β; TorchSharp's threshold changes the value by < 1e-8)
                var scaled = g.Node("Mul", new[] { x, g.FloatConstant("softplus_beta", (float)sp.beta) }, hint + "_scaled");
                var soft = g.Node("Softplus", new[] { scaled }, hint + "_softplus");
                return g.Node("Div", new[] { soft, g.FloatConstant("softplus_beta", (float)sp.beta) }, hint);
            }
        }
        if (ActivationOf(module) is { } activation) return OnnxActivations.Emit(g, activation, x, hint, label);
        Emitter? plugged;
        lock (Emitters) Emitters.TryGetValue(module.GetType(), out plugged);
        if (plugged is not null) return plugged(ctx, module, path, x);
        throw new OnnxExportException(label,
            $"the exporter writes only Sequential containers of standard TorchSharp layers ({Exportable}); it can't see what a " +
            $"{module.GetType().Name}'s forward does. The model still trains, saves and loads in MLNetDeep's own format (DeepTransformer.Save/Load); " +
            "for ONNX (and mlContext.Model.Save), build the module as an nn.Sequential of those layers.");
    }

    /// <summary>Children in order; a Linear or convolution directly followed by its batch norm is written as one layer (folded when the options say so).</summary>
    private static string EmitSequential(OnnxExportContext ctx, Sequential sequential, string path, string x, ref Tensor probe)
    {
        var children = sequential.named_children().ToList();
        for (int i = 0; i < children.Count; i++)
        {
            var (name, child) = children[i];
            string childPath = $"{path}.{name}";
            if (child is not nn.Module<Tensor, Tensor> typed)
                throw new OnnxExportException(Label(childPath, child), "a Sequential's child must map one tensor to one tensor.");
            bool weighted = child is Linear && probe.dim() == 2 || child is Conv1d or Conv2d;
            if (weighted && i + 1 < children.Count && children[i + 1].module is BatchNorm1d or BatchNorm2d
                && children[i + 1].module is nn.Module<Tensor, Tensor> norm)
            {
                string normPath = $"{path}.{children[i + 1].name}";
                string label = Label(childPath, child);
                x = child is Linear
                    ? OnnxLayers.Dense(ctx, childPath, normPath, x, label, Hint(childPath))
                    : OnnxLayers.Conv(ctx, childPath, normPath, x, label, Hint(childPath), default);
                probe = norm.call(typed.call(probe));
                i++;
                continue;
            }
            x = Emit(ctx, typed, childPath, x, ref probe);
        }
        return x;
    }

    /// <summary>Linear on a tensor of rank &gt; 2 (over its last dimension): MatMul by the transposed weight, then Add the bias.</summary>
    private static string LinearMatMul(OnnxExportContext ctx, string path, string x, string label, string hint)
    {
        var linear = ctx.Module<Linear>(path, label);
        var g = ctx.Graph;
        using var scope = NewDisposeScope();
        var y = g.Node("MatMul", new[] { x, g.Initializer($"{hint}.weight_t", linear.weight!.detach().t()) }, hint + "_matmul");
        return linear.bias is null ? y : g.Node("Add", new[] { y, g.Initializer($"{hint}.bias", linear.bias.detach()) }, hint);
    }

    private static string Pool(OnnxGraphBuilder g, string op, string x, string hint, string label, long[] kernel, long[]? stride, long[]? padding,
        long[]? dilation, bool ceilMode, bool countIncludePad)
    {
        int dims = kernel.Length;
        var strides = stride is { Length: > 0 } ? OnnxLayers.Expand(stride, dims) : kernel; // PyTorch: stride defaults to the kernel size
        var pad = padding is { Length: > 0 } ? OnnxLayers.Expand(padding, dims) : new long[dims];
        var attrs = new List<Proto.AttributeProto>
        {
            Ints("kernel_shape", kernel),
            Ints("strides", strides),
            Ints("pads", pad.Concat(pad).ToArray()),
        };
        if (dilation is { Length: > 0 } && OnnxLayers.Expand(dilation, dims) is var d && d.Any(v => v != 1)) attrs.Add(Ints("dilations", d));
        if (ceilMode) attrs.Add(Int("ceil_mode", 1));
        if (op == "AveragePool" && countIncludePad && pad.Any(p => p != 0)) attrs.Add(Int("count_include_pad", 1));
        return g.Node(op, new[] { x }, hint, attrs.ToArray());
    }

    private static string FlattenNode(OnnxGraphBuilder g, Flatten f, string x, Tensor input, Tensor output, string hint, string label)
    {
        long rank = input.dim();
        long start = f.start_dim < 0 ? f.start_dim + rank : f.start_dim;
        long end = f.end_dim < 0 ? f.end_dim + rank : f.end_dim;
        if (start == 0)
        {
            // flattening [B, 1, ...] to [B] (a common way to return one value per row) keeps the rows; anything else mixes them
            if (end == rank - 1 && input.shape.Skip(1).All(d => d == 1))
                return g.Node("Reshape", new[] { x, g.Int64Constant("shape_rows", new long[] { -1 }, 1) }, hint);
            throw new OnnxExportException(label, "it flattens the batch dimension (start_dim = 0); the exported graph keeps one output row per input row.");
        }
        if (start == 1 && end == rank - 1) return g.Node("Flatten", new[] { x }, hint, Int("axis", 1));
        // other ranges: reshape to the probe's output shape, any batch size
        var shape = new[] { -1L }.Concat(output.shape.Skip(1)).ToArray();
        return g.Node("Reshape", new[] { x, g.Int64Constant(hint + "_shape", shape, shape.Length) }, hint);
    }

    /// <summary>GELU's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    private static string TanhGelu(OnnxGraphBuilder g, string x, string hint)
    {
        if (g.Opset >= 20) return g.Node("Gelu", new[] { x }, hint, OnnxGraphBuilder.String("approximate", "tanh"));
        var cube = g.Node("Mul", new[] { g.Node("Mul", new[] { x, x }, hint + "_sq"), x }, hint + "_cube");
        var inner = g.Node("Add", new[] { x, g.Node("Mul", new[] { cube, g.FloatConstant("gelu_c", 0.044715f) }, hint + "_c") }, hint + "_inner");
        var t = g.Node("Tanh", new[] { g.Node("Mul", new[] { inner, g.FloatConstant("gelu_k", MathF.Sqrt(2f / MathF.PI)) }, hint + "_k") }, hint + "_tanh");
        var onePlus = g.Node("Add", new[] { t, g.FloatConstant("one", 1f) }, hint + "_add");
        return g.Node("Mul", new[] { g.Node("Mul", new[] { x, onePlus }, hint + "_mul"), g.FloatConstant("half", 0.5f) }, hint);
    }

    /// <summary>The MLNetDeep activation that writes the same ONNX as a TorchSharp activation module, or null.</summary>
    private static A.Activation? ActivationOf(nn.Module module) => module switch
    {
        ReLU => new A.Relu(),
        LeakyReLU l => new A.LeakyRelu { Alpha = l.negative_slope },
        ELU e => new A.Elu { Alpha = e.alpha },
        SELU => new A.Selu(),
        GELU => new A.Gelu(),
        Softplus => new A.Softplus(),
        Tanh => new A.Tanh(),
        Sigmoid => new A.Sigmoid(),
        SiLU => new A.Silu(),
        _ => null,
    };

    private static string Label(string path, nn.Module module) => $"module '{path}' ({module.GetType().Name})";

    private static string Hint(string path) => path.Replace('.', '_');
}
