using System.Globalization;
using MLNetDeep.Training;
using ScottPlot;

namespace MLNetDeep.Plotting;

/// <summary>
/// PNG plots of a training history: loss and metric curves, the learning rate, and per-layer gradient norms
/// (needs <c>TrainerOptions.Diagnostics</c>). Every method writes one PNG and returns its path.
/// </summary>
public static class TrainingPlots
{
    /// <summary>Default image size in pixels.</summary>
    public const int Width = 900, Height = 540;

    /// <summary>Training and validation loss per epoch.</summary>
    public static string SaveLoss(TrainingHistory history, string path, string? title = null)
    {
        var plot = NewPlot(title ?? "Loss", "epoch", "loss");
        EpochAxis(plot);
        var x = history.Epochs.Select(e => (double)e.Epoch).ToArray();
        Line(plot, x, history.Epochs.Select(e => e.TrainLoss).ToArray(), "training loss");
        if (history.Epochs.Any(e => e.ValidationLoss is not null))
            Line(plot, x, history.Epochs.Select(e => e.ValidationLoss ?? double.NaN).ToArray(), "validation loss");
        MarkEpoch(plot, history.RestoredEpoch, "restored");
        return Save(plot, path);
    }

    /// <summary>Validation metrics per epoch (accuracy, rmse, …).</summary>
    public static string SaveMetrics(TrainingHistory history, string path, string? title = null)
    {
        var plot = NewPlot(title ?? "Validation metrics", "epoch", "value");
        EpochAxis(plot);
        var x = history.Epochs.Select(e => (double)e.Epoch).ToArray();
        foreach (var m in history.Epochs.SelectMany(e => e.ValidationMetrics.Keys).Distinct())
            Line(plot, x, history.Epochs.Select(e => e.ValidationMetrics.TryGetValue(m, out var v) ? v : double.NaN).ToArray(), "val_" + m);
        MarkEpoch(plot, history.RestoredEpoch, "restored");
        return Save(plot, path);
    }

    /// <summary>The learning rate of the last step of every epoch.</summary>
    public static string SaveLearningRate(TrainingHistory history, string path)
    {
        var plot = NewPlot("Learning rate", "epoch", "learning rate");
        EpochAxis(plot);
        Line(plot, history.Epochs.Select(e => (double)e.Epoch).ToArray(), history.Epochs.Select(e => e.LearningRate).ToArray(), "learning rate");
        return Save(plot, path);
    }

    /// <summary>Per-layer mean gradient norm over epochs, log scale: one line per weight layer, first layer darkest.</summary>
    public static string SaveGradientNorms(TrainingHistory history, string path, string? title = null)
    {
        if (history.Diagnostics.Count == 0)
            throw new ArgumentException("The history has no diagnostics. Train with TrainerOptions.Diagnostics = new DiagnosticsOptions().", nameof(history));
        var plot = NewPlot(title ?? "Gradient norm per layer", "epoch", "mean gradient L2 norm (log10)");
        EpochAxis(plot);
        var layers = history.Diagnostics[0].Layers.Select(l => l.Layer).ToList();
        var x = history.Diagnostics.Select(d => (double)d.Epoch).ToArray();
        var colormap = new ScottPlot.Colormaps.Viridis();
        for (int i = 0; i < layers.Count; i++)
        {
            var y = history.Diagnostics.Select(d => Log10(d.Layers[i].GradientNorm)).ToArray();
            var line = Line(plot, x, y, layers[i]);
            line.Color = colormap.GetColor(layers.Count == 1 ? 0 : i / (double)(layers.Count - 1) * 0.9);
        }
        LogTicks(plot);
        return Save(plot, path);
    }

    /// <summary>
    /// The gradient-norm profile across depth (x = weight layer index, y = log10 mean gradient norm) at one epoch,
    /// for several runs: the classic vanishing-gradient picture. <paramref name="epoch"/> null = each run's first epoch.
    /// </summary>
    public static string SaveGradientProfile(IEnumerable<(string Label, TrainingHistory History)> runs, string path, int? epoch = null, string? title = null)
    {
        var plot = NewPlot(title ?? $"Gradient norm by depth (epoch {epoch?.ToString(CultureInfo.InvariantCulture) ?? "1"})",
            "weight layer (input → output)", "mean gradient L2 norm (log10)");
        foreach (var (label, h) in runs)
        {
            var d = epoch is int e ? h.Diagnostics.First(x => x.Epoch == e) : h.Diagnostics.First();
            var x = Enumerable.Range(1, d.Layers.Count).Select(i => (double)i).ToArray();
            var line = Line(plot, x, d.Layers.Select(l => Log10(l.GradientNorm)).ToArray(), label);
            line.MarkerSize = 8;
        }
        LogTicks(plot);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        return Save(plot, path, Alignment.LowerRight);
    }

    /// <summary>
    /// Validation loss per epoch of several runs on one log-scale plot (training loss for a run without validation
    /// data), with an optional horizontal reference line such as the loss of predicting the mean.
    /// </summary>
    public static string SaveLossComparison(IEnumerable<(string Label, TrainingHistory History)> runs, string path,
        string? title = null, (double Value, string Label)? reference = null)
    {
        var plot = NewPlot(title ?? "Validation loss", "epoch", "loss (log10)");
        EpochAxis(plot);
        foreach (var (label, h) in runs)
        {
            var x = h.Epochs.Select(e => (double)e.Epoch).ToArray();
            Line(plot, x, h.Epochs.Select(e => Log10(e.ValidationLoss ?? e.TrainLoss)).ToArray(), label);
        }
        if (reference is var (value, text))
        {
            var line = plot.Add.HorizontalLine(Log10(value));
            line.LegendText = text;
            line.LinePattern = LinePattern.Dashed;
        }
        LogTicks(plot);
        return Save(plot, path, Alignment.LowerLeft);
    }

    /// <summary>
    /// Resident memory of the process after each epoch (MB), one line per run: how data modes compare in memory
    /// (<c>TrainerOptions.Data</c>), and whether memory stays flat across epochs. The y axis starts at 0.
    /// </summary>
    public static string SaveMemoryOverEpochs(IEnumerable<(string Label, IReadOnlyList<double> RssMb)> runs, string path, string? title = null)
    {
        var plot = NewPlot(title ?? "Resident memory after each epoch", "epoch", "RSS (MB)");
        EpochAxis(plot);
        double top = 0;
        foreach (var (label, rss) in runs)
        {
            Line(plot, Enumerable.Range(1, rss.Count).Select(i => (double)i).ToArray(), rss.ToArray(), label);
            top = Math.Max(top, rss.DefaultIfEmpty(0).Max());
        }
        plot.Axes.SetLimitsY(0, top * 1.15);
        return Save(plot, path, Alignment.LowerRight);
    }

    /// <summary>Writes loss.png, metrics.png, learning-rate.png and (with diagnostics) gradient-norms.png; returns the paths.</summary>
    public static IReadOnlyList<string> SaveAll(TrainingHistory history, string directory)
    {
        Directory.CreateDirectory(directory);
        var paths = new List<string>
        {
            SaveLoss(history, Path.Combine(directory, "loss.png")),
            SaveLearningRate(history, Path.Combine(directory, "learning-rate.png")),
        };
        if (history.Epochs.Any(e => e.ValidationMetrics.Count > 0)) paths.Add(SaveMetrics(history, Path.Combine(directory, "metrics.png")));
        if (history.Diagnostics.Count > 0) paths.Add(SaveGradientNorms(history, Path.Combine(directory, "gradient-norms.png")));
        return paths;
    }

    private static void EpochAxis(Plot plot) =>
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };

    internal static double Log10(double v) => v > 0 ? Math.Log10(v) : double.NaN;

    internal static Plot NewPlot(string title, string x, string y)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        return plot;
    }

    internal static ScottPlot.Plottables.Scatter Line(Plot plot, double[] x, double[] y, string label)
    {
        var s = plot.Add.Scatter(x, y);
        s.LegendText = label;
        s.LineWidth = 2;
        s.MarkerSize = 5;
        return s;
    }

    private static void MarkEpoch(Plot plot, int? epoch, string label)
    {
        if (epoch is not int e) return;
        var v = plot.Add.VerticalLine(e);
        v.LinePattern = LinePattern.Dashed;
        v.LegendText = $"{label} (epoch {e})";
    }

    private static void LogTicks(Plot plot)
    {
        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = y => "1e" + Math.Round(y).ToString(CultureInfo.InvariantCulture),
            IntegerTicksOnly = true,
        };
        plot.Axes.Left.TickGenerator = ticks;
    }

    internal static string Save(Plot plot, string path, Alignment legend = Alignment.UpperRight)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        plot.ShowLegend(legend);
        plot.SavePng(path, Width, Height);
        return path;
    }
}
