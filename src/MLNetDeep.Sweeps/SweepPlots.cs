using System.Globalization;
using MLNetDeep.Persistence;
using ScottPlot;

namespace MLNetDeep.Sweeps;

/// <summary>PNG plots of a sweep (ScottPlot): the best metric over trials, and the metric against each parameter.</summary>
public static class SweepPlots
{
    /// <summary>Writes "best_over_trials.png" and one "metric_vs_PARAM.png" per parameter into <paramref name="directory"/>; returns the paths.</summary>
    public static IReadOnlyList<string> SaveAll(SweepTable table, string directory, SearchSpace? space = null, int width = 800, int height = 500)
    {
        Directory.CreateDirectory(directory);
        var paths = new List<string> { Path.Combine(directory, "best_over_trials.png") };
        SaveBestOverTrials(table, paths[0], width, height);
        foreach (var name in table.ParameterNames)
        {
            var p = Path.Combine(directory, $"metric_vs_{Sanitize(name)}.png");
            SaveMetricVsParameter(table, name, p, space, width, height);
            paths.Add(p);
        }
        return paths;
    }

    /// <summary>Each trial's final metric (completed: blue, stopped early: grey) and the best so far (a step line).</summary>
    public static void SaveBestOverTrials(SweepTable table, string path, int width = 800, int height = 500)
    {
        var plot = new Plot();
        var done = table.Trials.Where(t => t.Status == TrialStatus.Completed && t.Value is double).ToList();
        var pruned = table.Trials.Where(t => t.Status == TrialStatus.Pruned && t.Value is double).ToList();
        if (pruned.Count > 0)
        {
            var s = plot.Add.ScatterPoints(pruned.Select(t => (double)t.Number).ToArray(), pruned.Select(t => t.Value!.Value).ToArray());
            s.Color = Colors.Gray; s.LegendText = "stopped early (last epoch's value)";
        }
        if (done.Count > 0)
        {
            var s = plot.Add.ScatterPoints(done.Select(t => (double)t.Number).ToArray(), done.Select(t => t.Value!.Value).ToArray());
            s.Color = Colors.Blue; s.LegendText = "completed";
        }
        var best = table.BestSoFar();
        var xs = table.Trials.Select(t => (double)t.Number).Where((_, i) => !double.IsNaN(best[i])).ToArray();
        var ys = best.Where(v => !double.IsNaN(v)).ToArray();
        if (xs.Length > 0)
        {
            var line = plot.Add.Scatter(xs, ys);
            line.ConnectStyle = ConnectStyle.StepHorizontal;
            line.MarkerSize = 0; line.Color = Colors.Red; line.LegendText = "best so far";
        }
        plot.Title($"{table.MetricName} over trials ({table.Direction.ToString().ToLowerInvariant()})");
        plot.XLabel("trial");
        plot.YLabel(table.MetricName);
        plot.ShowLegend();
        Save(plot, path, width, height);
    }

    /// <summary>The final metric of every finished trial against one parameter (log axis as log10 for log ranges; choices by name).</summary>
    public static void SaveMetricVsParameter(SweepTable table, string parameter, string path, SearchSpace? space = null, int width = 800, int height = 500)
    {
        var plot = new Plot();
        SearchDimension? dim = null;
        space?.TryGetDimension(parameter, out dim);
        var rows = table.Trials.Where(t => t.Value is double && t.Parameters.ContainsKey(parameter) && t.Status is TrialStatus.Completed or TrialStatus.Pruned).ToList();
        bool categorical = dim is ChoiceDimension || rows.Any(t => t.Parameters[parameter] is string or bool);
        bool log = dim is FloatRange { LogScale: true } or IntRange { LogScale: true };
        string[] labels = categorical
            ? (dim is ChoiceDimension c ? c.Values.Select(SearchDimension.Format) : rows.Select(t => SearchDimension.Format(t.Parameters[parameter])).Distinct().OrderBy(x => x)).ToArray()
            : Array.Empty<string>();
        double X(object v) => categorical ? Array.IndexOf(labels, SearchDimension.Format(v))
            : log ? Math.Log10(Convert.ToDouble(v, CultureInfo.InvariantCulture)) : Convert.ToDouble(v, CultureInfo.InvariantCulture);
        foreach (var (status, color, label) in new[] { (TrialStatus.Pruned, Colors.Gray, "stopped early"), (TrialStatus.Completed, Colors.Blue, "completed") })
        {
            var sel = rows.Where(t => t.Status == status).ToList();
            if (sel.Count == 0) continue;
            var s = plot.Add.ScatterPoints(sel.Select(t => X(t.Parameters[parameter])).ToArray(), sel.Select(t => t.Value!.Value).ToArray());
            s.Color = color; s.LegendText = label;
        }
        if (categorical && labels.Length > 0)
        {
            plot.Axes.Bottom.SetTicks(Enumerable.Range(0, labels.Length).Select(i => (double)i).ToArray(), labels);
            plot.Axes.SetLimitsX(-0.5, labels.Length - 0.5);
        }
        plot.Title($"{table.MetricName} vs {parameter}");
        plot.XLabel(log ? $"log10({parameter})" : parameter);
        plot.YLabel(table.MetricName);
        plot.ShowLegend();
        Save(plot, path, width, height);
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        var bytes = plot.GetImageBytes(width, height, ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, bytes);
    }

    private static string Sanitize(string name) => new(name.Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.' ? ch : '_').ToArray());
}
