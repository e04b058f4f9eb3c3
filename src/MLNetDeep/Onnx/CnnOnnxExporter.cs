using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using static MLNetDeep.Onnx.OnnxGraphBuilder;

namespace MLNetDeep.Onnx;

/// <summary>
/// Writes a <see cref="CnnArchitecture"/> network: reshape of the flat input to N×C×H×W, every ConvBlock
/// and ResidualBlock (asymmetric "same" padding goes into Conv's pads; batch norm folded or as nodes;
/// dropout dropped), flatten or global average pooling, and the dense head.
/// </summary>
internal sealed class CnnOnnxExporter : OnnxNetworkExporter
{
    public override Type ArchitectureType => typeof(CnnArchitecture);

    public override IReadOnlyList<object> InputDims(NetworkArchitecture architecture) =>
        new object[] { ((CnnArchitecture)architecture).ImageShape.Size };

    public override string Emit(OnnxExportContext ctx, string input)
    {
        var arch = (CnnArchitecture)ctx.Architecture;
        var g = ctx.Graph;
        var s = arch.ImageShape;
        var shapes = arch.Plan();
        string x = g.Node("Reshape", new[] { input, g.Int64Constant("image_shape", new long[] { -1, s.Channels, s.Height, s.Width }, 4) }, "image");
        int h = s.Height, w = s.Width;
        for (int i = 0; i < arch.Layers.Count; i++)
        {
            var layer = arch.Layers[i];
            string label = $"Layers[{i}] ({layer?.GetType().Name ?? "null"})";
            string path = Models.ModulePaths.Block(i);
            x = layer switch
            {
                ConvBlock cb => ConvBlock(ctx, cb, path, x, h, w, label, $"block{i}"),
                ResidualBlock rb => Residual(ctx, rb, path, x, h, w, label, $"block{i}"),
                _ => throw new OnnxExportException(label, "only ConvBlock and ResidualBlock layers can be exported."),
            };
            (_, h, w) = shapes[i];
        }
        x = arch.Flatten == FlattenMode.GlobalAveragePool
            ? g.Node("Flatten", new[] { g.Node("GlobalAveragePool", new[] { x }, "gap") }, "features", Int("axis", 1))
            : g.Node("Flatten", new[] { x }, "features", Int("axis", 1));
        var raw = OnnxLayers.DenseHead(ctx, arch.Head, x);
        ctx.CheckAllParametersUsed();
        return raw;
    }

    private static string ConvBlock(OnnxExportContext ctx, ConvBlock spec, string path, string x, int h, int w, string label, string hint)
    {
        var pads = spec.Padding == PaddingMode.Same ? SamePads(h, w, spec.KernelSize, spec.Stride) : default;
        x = OnnxLayers.Conv(ctx, $"{path}.conv", spec.BatchNorm ? $"{path}.norm" : null, x, label, $"{hint}_conv", pads);
        x = OnnxActivations.Emit(ctx.Graph, spec.Activation!, x, $"{hint}_{spec.Activation?.Name}", label);
        return PoolAndDropout(ctx, spec, x, label, hint);
    }

    private static string Residual(OnnxExportContext ctx, ResidualBlock spec, string path, string x, int h, int w, string label, string hint)
    {
        var g = ctx.Graph;
        var main = OnnxLayers.Conv(ctx, $"{path}.conv1", spec.BatchNorm ? $"{path}.norm1" : null, x, label, $"{hint}_conv1",
            SamePads(h, w, spec.KernelSize, spec.Stride));
        main = OnnxActivations.Emit(g, spec.Activation!, main, $"{hint}_{spec.Activation?.Name}1", label);
        int h2 = (h + spec.Stride - 1) / spec.Stride, w2 = (w + spec.Stride - 1) / spec.Stride;
        main = OnnxLayers.Conv(ctx, $"{path}.conv2", spec.BatchNorm ? $"{path}.norm2" : null, main, label, $"{hint}_conv2",
            SamePads(h2, w2, spec.KernelSize, 1));
        string shortcut;
        if (ctx.Has<TorchSharp.Modules.Conv2d>($"{path}.shortcut"))
            shortcut = OnnxLayers.Conv(ctx, $"{path}.shortcut", null, x, label, $"{hint}_shortcut", default);
        else if (ctx.Has<TorchSharp.Modules.Conv2d>($"{path}.shortcut.conv"))
            shortcut = OnnxLayers.Conv(ctx, $"{path}.shortcut.conv", $"{path}.shortcut.bn", x, label, $"{hint}_shortcut", default);
        else
        {
            ctx.Module<TorchSharp.Modules.Identity>($"{path}.shortcut", label);
            shortcut = x;
        }
        var sum = g.Node("Add", new[] { main, shortcut }, $"{hint}_add");
        var y = OnnxActivations.Emit(g, spec.Activation!, sum, $"{hint}_{spec.Activation?.Name}2", label);
        return PoolAndDropout(ctx, spec, y, label, hint);
    }

    private static string PoolAndDropout(OnnxExportContext ctx, CnnLayer spec, string x, string label, string hint)
    {
        // Dropout is the identity at inference: nothing to write.
        var k = spec.PoolSize;
        return spec.Pooling switch
        {
            PoolingKind.None => x,
            PoolingKind.Max => ctx.Graph.Node("MaxPool", new[] { x }, $"{hint}_maxpool", Ints("kernel_shape", k, k), Ints("strides", k, k)),
            PoolingKind.Average => ctx.Graph.Node("AveragePool", new[] { x }, $"{hint}_avgpool", Ints("kernel_shape", k, k), Ints("strides", k, k)),
            _ => throw new OnnxExportException(label, $"pooling kind {spec.Pooling} is not exportable."),
        };
    }

    private static (int Top, int Bottom, int Left, int Right) SamePads(int h, int w, int kernel, int stride)
    {
        var (top, bottom) = CnnArchitecture.SamePadding(h, kernel, stride);
        var (left, right) = CnnArchitecture.SamePadding(w, kernel, stride);
        return (top, bottom, left, right);
    }
}
