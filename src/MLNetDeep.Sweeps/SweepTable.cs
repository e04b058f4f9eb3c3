using System.Globalization;
using System.Text;
using MLNetDeep.Persistence;

namespace MLNetDeep.Sweeps;

/// <summary>
/// The results table of a sweep: one row per trial with its number, status, final metric, epochs run,
/// duration, attempts, worker, error, every parameter and the metric after each epoch. Export with <see cref="SaveCsv"/>.
/// </summary>
public sealed class SweepTable
{
    /// <summary>Builds the table from trials.</summary>
    public SweepTable(IReadOnlyList<TrialRecord> trials, string metricName, OptimizationDirection direction)
    {
        Trials = trials.OrderBy(t => t.Number).ToList();
        MetricName = metricName;
        Direction = direction;
    }

    /// <summary>The trials, by number.</summary>
    public IReadOnlyList<TrialRecord> Trials { get; }
    /// <summary>The metric's name.</summary>
    public string MetricName { get; }
    /// <summary>Whether larger or smaller was better.</summary>
    public OptimizationDirection Direction { get; }

    /// <summary>Parameter names over all trials, in first-seen order.</summary>
    public IReadOnlyList<string> ParameterNames => Trials.SelectMany(t => t.Parameters.Keys).Distinct().ToList();

    /// <summary>The best metric so far after each trial (by trial number; NaN until one completes).</summary>
    public IReadOnlyList<double> BestSoFar()
    {
        var result = new List<double>();
        double best = double.NaN;
        foreach (var t in Trials)
        {
            if (t.Status == TrialStatus.Completed && t.Value is double v && double.IsFinite(v))
                best = double.IsNaN(best) ? v : Direction == OptimizationDirection.Maximize ? Math.Max(best, v) : Math.Min(best, v);
            result.Add(best);
        }
        return result;
    }

    /// <summary>The table as CSV text (RFC 4180 quoting, invariant culture).</summary>
    public string ToCsv()
    {
        var ci = CultureInfo.InvariantCulture;
        var names = ParameterNames;
        int maxEpoch = Trials.SelectMany(t => t.Intermediate.Keys).DefaultIfEmpty(0).Max();
        var sb = new StringBuilder();
        var header = new List<string> { "trial", "status", MetricName, "epochs", "duration_s", "attempts", "worker", "error" };
        header.AddRange(names);
        header.AddRange(Enumerable.Range(1, maxEpoch).Select(e => $"{MetricName}_epoch_{e}"));
        sb.AppendLine(string.Join(',', header.Select(Quote)));
        foreach (var t in Trials)
        {
            var row = new List<string>
            {
                t.Number.ToString(ci),
                t.Status.ToString().ToLowerInvariant(),
                t.Value is double v ? v.ToString("R", ci) : "",
                (t.Intermediate.Count == 0 ? 0 : t.Intermediate.Keys.Max()).ToString(ci),
                t.Duration.TotalSeconds.ToString("F3", ci),
                t.Attempts.ToString(ci),
                t.Worker ?? "",
                t.Error ?? "",
            };
            row.AddRange(names.Select(n => t.Parameters.TryGetValue(n, out var p) ? SearchDimension.Format(p) : ""));
            row.AddRange(Enumerable.Range(1, maxEpoch).Select(e => t.Intermediate.TryGetValue(e, out var m) ? m.ToString("R", ci) : ""));
            sb.AppendLine(string.Join(',', row.Select(Quote)));
        }
        return sb.ToString();
    }

    /// <summary>Writes <see cref="ToCsv"/> to <paramref name="path"/> atomically (a temporary file, then a rename).</summary>
    public void SaveCsv(string path) => AtomicFile.WriteAllText(path, ToCsv());

    private static string Quote(string s) =>
        s.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}
