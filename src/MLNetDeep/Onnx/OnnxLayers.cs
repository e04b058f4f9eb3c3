using MLNetDeep.Models;
using TorchSharp;
using static MLNetDeep.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace MLNetDeep.Onnx;

/// <summary>Layer emitters shared by the family exporters: convolution (+ batch norm), dense layers and the dense head.</summary>
internal static class OnnxLayers
{
    /// <summary>
    /// A 1-D or 2-D convolution at <paramref name="path"/> (a Conv1d/Conv2d, or a Sequential of ZeroPad2d "pad" and Conv2d
    /// "conv" for asymmetric "same" padding, whose pads are <paramref name="extraPads"/>), followed by the
    /// batch norm at <paramref name="batchNormPath"/> when given (folded into the weights or as a node).
    /// Grouped and dilated convolutions and TorchSharp's Padding.Same / Padding.Valid are written as ONNX Conv attributes.
    /// </summary>
    public static string Conv(OnnxExportContext ctx, string path, string? batchNormPath, string x, string layer, string hint,
        (int Top, int Bottom, int Left, int Right) extraPads)
    {
        var g = ctx.Graph;
        string convPath = path;
        var extra = new long[4]; // ONNX order: top, left, bottom, right
        if (ctx.Has<nn.Module>($"{path}.conv") && ctx.Has<nn.Module>($"{path}.pad"))
        {
            ctx.Module<TorchSharp.Modules.ZeroPad2d>($"{path}.pad", layer);
            convPath = $"{path}.conv";
            extra = new long[] { extraPads.Top, extraPads.Left, extraPads.Bottom, extraPads.Right };
        }
        var conv = ctx.Module<TorchSharp.Modules.Convolution>(convPath, layer);
        if (conv.transposed)
            throw new OnnxExportException(layer, $"convolution '{convPath}' is transposed; the exporter writes ordinary convolutions only.");
        if (conv.padding_mode != TorchSharp.PaddingModes.Zeros)
            throw new OnnxExportException(layer, $"convolution '{convPath}' pads with {conv.padding_mode}; ONNX Conv pads with zeros only.");
        using var scope = NewDisposeScope();
        var weight = conv.weight!.detach().to(ScalarType.Float64);
        int spatial = (int)weight.dim() - 2;
        var kernel = weight.shape.Skip(2).ToArray();
        var dilation = conv.dilation is { Length: > 0 } d ? Expand(d, spatial) : Enumerable.Repeat(1L, spatial).ToArray();
        var pads = new long[2 * spatial]; // ONNX order: all begins, then all ends
        if (conv.padding is { Length: > 0 } p)
        {
            var per = Expand(p, spatial);
            for (int i = 0; i < spatial; i++) pads[i] = pads[spatial + i] = per[i];
        }
        else if (conv.padding_type == TorchSharp.Padding.Same)
        {
            // PyTorch's "same" (stride 1): total dilation·(k − 1) per dimension, the odd one at the end.
            for (int i = 0; i < spatial; i++)
            {
                long total = dilation[i] * (kernel[i] - 1);
                pads[i] = total / 2;
                pads[spatial + i] = total - total / 2;
            }
        }
        else if (conv.padding_type is not null && conv.padding_type != TorchSharp.Padding.Valid)
            throw new OnnxExportException(layer, $"convolution '{convPath}' uses padding mode {conv.padding_type}; the exporter needs explicit, same or valid padding.");
        if (spatial == 2)
            for (int i = 0; i < 4; i++) pads[i] += extra[i];

        var bias = conv.bias is null ? zeros(weight.shape[0], dtype: ScalarType.Float64) : conv.bias.detach().to(ScalarType.Float64);
        string? bnNode = null;
        if (batchNormPath is not null)
        {
            var bn = ctx.Module<TorchSharp.Modules.BatchNorm>(batchNormPath, layer);
            if (ctx.Options.FoldBatchNorm)
                (weight, bias) = Fold(bn, weight, bias, layer);
            else bnNode = batchNormPath;
        }
        var attrs = new List<Proto.AttributeProto>
        {
            Ints("kernel_shape", kernel),
            Ints("strides", Expand(conv.stride, spatial)),
            Ints("pads", pads),
        };
        if (dilation.Any(v => v != 1)) attrs.Add(Ints("dilations", dilation));
        if (conv.groups != 1) attrs.Add(Int("group", conv.groups));
        var w = g.Initializer($"{hint}.weight", weight);
        var b = g.Initializer($"{hint}.bias", bias);
        var y = g.Node("Conv", new[] { x, w, b }, hint, attrs.ToArray());
        return bnNode is null ? y : BatchNormNode(ctx, bnNode, y, layer, hint + "_bn");
    }

    /// <summary>A per-dimension size given once for all dimensions (TorchSharp stores some as one value) as one value per dimension.</summary>
    internal static long[] Expand(long[] values, int dims) => values.Length == dims ? values : Enumerable.Repeat(values[0], dims).ToArray();

    /// <summary>A Linear layer (Gemm) at <paramref name="path"/>, then the batch norm at <paramref name="batchNormPath"/> when given.</summary>
    public static string Dense(OnnxExportContext ctx, string path, string? batchNormPath, string x, string layer, string hint)
    {
        var linear = ctx.Module<TorchSharp.Modules.Linear>(path, layer);
        using var scope = NewDisposeScope();
        var weight = linear.weight!.detach().to(ScalarType.Float64);
        var bias = linear.bias is null ? zeros(weight.shape[0], dtype: ScalarType.Float64) : linear.bias.detach().to(ScalarType.Float64);
        string? bnNode = null;
        if (batchNormPath is not null)
        {
            var bn = ctx.Module<TorchSharp.Modules.BatchNorm>(batchNormPath, layer);
            if (ctx.Options.FoldBatchNorm) (weight, bias) = Fold(bn, weight, bias, layer);
            else bnNode = batchNormPath;
        }
        var w = ctx.Graph.Initializer($"{hint}.weight", weight);
        var b = ctx.Graph.Initializer($"{hint}.bias", bias);
        var y = ctx.Graph.Node("Gemm", new[] { x, w, b }, hint, Int("transB", 1));
        return bnNode is null ? y : BatchNormNode(ctx, bnNode, y, layer, hint + "_bn");
    }

    /// <summary>
    /// The dense head shared by every family (<see cref="DenseHeadModule"/>): hidden Linear → [BN] → activation
    /// layers, then the output layer; dropout is dropped (inference). Returns the raw output [N, outputs].
    /// </summary>
    public static string DenseHead(OnnxExportContext ctx, DenseHead spec, string x, string path = Models.ModulePaths.HeadLayers)
    {
        for (int i = 0; i < spec.HiddenSizes.Count; i++)
        {
            string layer = $"Head.HiddenSizes[{i}] (dense {spec.HiddenSizes[i]})";
            x = Dense(ctx, $"{path}.dense{i}", spec.BatchNorm ? $"{path}.dense{i}_bn" : null, x, layer, $"head_dense{i}");
            x = OnnxActivations.Emit(ctx.Graph, spec.Activation!, x, $"head_dense{i}_{spec.Activation?.Name}", layer);
        }
        return Dense(ctx, $"{path}.output", null, x, "Head output layer", "head_output");
    }

    /// <summary>Batch norm folded into the preceding layer: w' = w·γ/√(σ²+ε) per output channel, b' = (b − μ)·γ/√(σ²+ε) + β.</summary>
    private static (Tensor Weight, Tensor Bias) Fold(TorchSharp.Modules.BatchNorm bn, Tensor weight, Tensor bias, string layer)
    {
        var (gamma, beta, mean, variance) = BatchNormTensors(bn, weight.shape[0], layer);
        var scale = gamma / (variance + bn.eps).sqrt();
        var shape = new long[weight.dim()];
        Array.Fill(shape, 1L);
        shape[0] = -1;
        return (weight * scale.view(shape), (bias - mean) * scale + beta);
    }

    /// <summary>A BatchNormalization node with the running statistics of the batch norm at <paramref name="path"/> (inference).</summary>
    internal static string BatchNormNode(OnnxExportContext ctx, string path, string x, string layer, string hint)
    {
        var bn = ctx.Module<TorchSharp.Modules.BatchNorm>(path, layer);
        using var scope = NewDisposeScope();
        var (gamma, beta, mean, variance) = BatchNormTensors(bn, bn.running_mean?.shape[0] ?? 0, layer);
        var g = ctx.Graph;
        return g.Node("BatchNormalization",
            new[] { x, g.Initializer($"{hint}.scale", gamma), g.Initializer($"{hint}.bias", beta),
                    g.Initializer($"{hint}.mean", mean), g.Initializer($"{hint}.var", variance) },
            hint, Float("epsilon", (float)bn.eps));
    }

    private static (Tensor Gamma, Tensor Beta, Tensor Mean, Tensor Variance) BatchNormTensors(TorchSharp.Modules.BatchNorm bn, long channels, string layer)
    {
        if (bn.running_mean is null || bn.running_var is null)
            throw new OnnxExportException(layer, "batch norm without running statistics (track_running_stats=false) normalises with each batch's statistics, which ONNX inference can't reproduce.");
        var mean = bn.running_mean.detach().to(ScalarType.Float64);
        var variance = bn.running_var.detach().to(ScalarType.Float64);
        var gamma = bn.weight is null ? ones(channels, dtype: ScalarType.Float64) : bn.weight.detach().to(ScalarType.Float64);
        var beta = bn.bias is null ? zeros(channels, dtype: ScalarType.Float64) : bn.bias.detach().to(ScalarType.Float64);
        return (gamma, beta, mean, variance);
    }
}
