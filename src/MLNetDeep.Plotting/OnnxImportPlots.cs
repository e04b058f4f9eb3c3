using MLNetDeep.OnnxImport;
using ScottPlot;

namespace MLNetDeep.Plotting;

/// <summary>Pictures of imported ONNX networks.</summary>
public static class OnnxImportPlots
{
    /// <summary>
    /// The network's sequential blocks as bars of their parameter counts (millions), each labelled with the block's
    /// number of convolution / Gemm / MatMul layers: where the weights are, and what unfreezing the top blocks trains.
    /// </summary>
    public static string SaveBlocks(OnnxNetwork network, string path, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var blocks = network.Blocks;
        var millions = blocks.Select(b => b.parameters().Sum(p => p.numel()) / 1e6).ToArray();
        var plot = new Plot();
        var bars = plot.Add.Bars(millions);
        bars.Color = Colors.SteelBlue;
        for (int i = 0; i < blocks.Count; i++)
        {
            var layers = blocks[i].OperatorTypes.Count(o => o is "Conv" or "ConvTranspose" or "Gemm" or "MatMul");
            var t = plot.Add.Text($"{layers} layer{(layers == 1 ? "" : "s")}", i, millions[i]);
            t.LabelAlignment = Alignment.LowerCenter;
            t.LabelFontSize = 12;
        }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, blocks.Count).Select(i => (double)i).ToArray(),
            blocks.Select(b => $"block{b.Index}").ToArray());
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.SetLimits(-0.6, blocks.Count - 0.4, 0, millions.DefaultIfEmpty(0).Max() * 1.15 + 1e-9);
        plot.Title(title ?? $"{network.ProducerName} model imported: {blocks.Count} blocks");
        plot.YLabel("parameters (millions)");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        plot.SavePng(path, Math.Max(640, 100 * blocks.Count), 420);
        return path;
    }
}
