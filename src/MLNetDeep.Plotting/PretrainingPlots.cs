using System.Globalization;
using MLNetDeep.Pretraining;
using ScottPlot;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Plotting;

/// <summary>
/// PNG pictures of layer-wise pretraining: a layer's weights as images (the "filters" of an RBM or autoencoder on image
/// inputs) and the per-layer curves of <c>TrainingHistory.Pretraining</c>. Every method writes one PNG and returns its path.
/// </summary>
public static class PretrainingPlots
{
    /// <summary>
    /// The first <paramref name="count"/> rows of a dense layer's weight matrix ([units, inputs], as Linear stores it), each
    /// shown as a <paramref name="height"/> × <paramref name="width"/> grey image in a grid: mid grey is 0, white the unit's
    /// largest positive weight, black its most negative one (each unit scaled on its own).
    /// </summary>
    /// <param name="weight">A [units, height·width] weight matrix, e.g. <c>network.named_parameters()</c>' "head.layers.dense0.weight".</param>
    /// <param name="height">Image height (28 for Fashion-MNIST).</param>
    /// <param name="width">Image width.</param>
    /// <param name="path">The PNG to write.</param>
    /// <param name="count">How many units to show (at most the layer's). Default 64.</param>
    /// <param name="title">Optional title.</param>
    public static string SaveFilters(Tensor weight, int height, int width, string path, int count = 64, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.dim() != 2 || weight.shape[1] != (long)height * width)
            throw new ArgumentException($"SaveFilters needs a [units, {height}·{width} = {height * width}] weight matrix. Received: shape [{string.Join(", ", weight.shape)}]. " +
                                        "Pass the first dense layer's weight of a network whose inputs are the images' pixels.", nameof(weight));
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, $"count must be >= 1. Received: count={count}");
        int units = (int)Math.Min(count, weight.shape[0]);
        float[] w;
        using (no_grad()) w = weight.detach().narrow(0, 0, units).cpu().to(ScalarType.Float32).contiguous().data<float>().ToArray();
        int columns = (int)Math.Ceiling(Math.Sqrt(units)), rows = (units + columns - 1) / columns;
        const int gap = 2;
        // Heatmap rows run top to bottom; NaN (the gaps) is left transparent.
        var grid = new double[rows * (height + gap) - gap, columns * (width + gap) - gap];
        for (int r = 0; r < grid.GetLength(0); r++)
            for (int c = 0; c < grid.GetLength(1); c++) grid[r, c] = double.NaN;
        for (int u = 0; u < units; u++)
        {
            var span = w.AsSpan(u * height * width, height * width);
            double scale = 0;
            foreach (var v in span) scale = Math.Max(scale, Math.Abs(v));
            if (scale == 0) scale = 1;
            int top = u / columns * (height + gap), left = u % columns * (width + gap);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    grid[top + y, left + x] = 0.5 + 0.5 * span[y * width + x] / scale;
        }
        var plot = new Plot();
        var map = plot.Add.Heatmap(grid);
        map.Colormap = new ScottPlot.Colormaps.Grayscale();
        map.ManualRange = new ScottPlot.Range(0, 1);
        plot.Axes.Frameless();
        plot.HideGrid();
        if (title is not null) plot.Title(title);
        int cell = 3; // pixels per weight
        return SavePng(plot, path, grid.GetLength(1) * cell + 20, grid.GetLength(0) * cell + (title is null ? 20 : 60));
    }

    /// <summary>
    /// Pseudo-log-likelihood per pretraining epoch (<see cref="PretrainingLayerResult.PseudoLogLikelihood"/>), one panel per
    /// RBM layer with Bernoulli visible units (each on its own scale: the value grows with the number of visible units).
    /// </summary>
    public static string SavePseudoLogLikelihood(IEnumerable<PretrainingLayerResult> layers, string path, string? title = null) =>
        SaveCurves(layers, l => l.PseudoLogLikelihood, path, title, "pseudo-log-likelihood (higher is better)");

    /// <summary>Reconstruction error (mean squared) per pretraining epoch, one panel per layer.</summary>
    public static string SaveReconstructionError(IEnumerable<PretrainingLayerResult> layers, string path, string? title = null) =>
        SaveCurves(layers, l => l.ReconstructionLoss, path, title, "mean squared reconstruction error");

    // One panel per layer, side by side: the layers' values differ in scale (the pseudo-log-likelihood grows with the
    // number of visible units), so a shared axis would flatten all but one curve.
    private static string SaveCurves(IEnumerable<PretrainingLayerResult> layers, Func<PretrainingLayerResult, List<double>> values, string path, string? title, string yLabel)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var shown = layers.Where(l => values(l).Count > 0).ToList();
        if (shown.Count == 0)
            throw new ArgumentException("None of the layers has values for this plot (autoencoder layers and Gaussian-visible RBMs have no pseudo-log-likelihood).", nameof(layers));
        var multiplot = new Multiplot();
        multiplot.AddPlots(shown.Count);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        for (int i = 0; i < shown.Count; i++)
        {
            var plot = multiplot.GetPlot(i);
            var y = values(shown[i]).ToArray();
            plot.Title(i == 0 && title is not null ? $"{title}: {shown[i].Layer}" : shown[i].Layer, size: 13);
            plot.XLabel("epoch");
            if (i == 0) plot.YLabel(yLabel);
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            var s = plot.Add.Scatter(Enumerable.Range(1, y.Length).Select(e => (double)e).ToArray(), y);
            s.LineWidth = 2;
            s.MarkerSize = 5;
            s.Color = ScottPlot.Palette.Default.GetColor(i);
        }
        int width = Math.Max(TrainingPlots.Width, 330 * shown.Count), height = TrainingPlots.Height;
        return Write(path, temp => multiplot.SavePng(temp, width, height));
    }

    private static string SavePng(Plot plot, string path, int width, int height) => Write(path, temp => plot.SavePng(temp, width, height));

    private static string Write(string path, Action<string> save)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        // Written next to the target and renamed over it, so a reader never sees half a file.
        var temp = Path.Combine(dir ?? ".", "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture) + ".png");
        try
        {
            save(temp);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        return path;
    }
}
