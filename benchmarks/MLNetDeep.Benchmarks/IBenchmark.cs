namespace MLNetDeep.Benchmarks;

/// <summary>
/// One benchmark, selected by name on the command line (`dotnet run -c Release --project benchmarks/MLNetDeep.Benchmarks -- NAME`).
/// Each prints `name: value` lines; compare ratios taken in the same run, since absolute times move on shared machines.
/// </summary>
public interface IBenchmark
{
    /// <summary>Command-line name, e.g. "cnn".</summary>
    string Name { get; }
    /// <summary>One line shown by --help.</summary>
    string Description { get; }
    /// <summary>Runs the benchmark; returns the process exit code.</summary>
    int Run(string[] args);
}

/// <summary>Small helpers shared by the benchmarks.</summary>
public static class Report
{
    /// <summary>Prints one `name: value` line (invariant culture).</summary>
    public static void Line(string name, double value, string format = "G6") =>
        Console.WriteLine($"{name}: {value.ToString(format, System.Globalization.CultureInfo.InvariantCulture)}");

    /// <summary>
    /// The estimator-vs-raw lines of one run: training rows/s (whole Fit, loop only, raw before / after and their mean),
    /// the training ratio (whole Fit / raw mean), inference rows/s and ratio, and test accuracy; names start with <paramref name="prefix"/>.
    /// </summary>
    public static void EstimatorVsRaw(string prefix, double fit, double loop, double rawBefore, double rawAfter,
        double inferEstimator, double inferRaw, double accuracy)
    {
        double raw = (rawBefore + rawAfter) / 2;
        Line($"{prefix}_train_samples_per_s_mlnet", fit, "F0");
        Line($"{prefix}_train_samples_per_s_mlnet_loop", loop, "F0");
        Line($"{prefix}_train_samples_per_s_raw", raw, "F0");
        Line($"{prefix}_train_samples_per_s_raw_before", rawBefore, "F0");
        Line($"{prefix}_train_samples_per_s_raw_after", rawAfter, "F0");
        Line($"{prefix}_train_ratio", fit / raw, "F3");
        Line($"{prefix}_infer_samples_per_s_mlnet", inferEstimator, "F0");
        Line($"{prefix}_infer_samples_per_s_raw", inferRaw, "F0");
        Line($"{prefix}_infer_ratio", inferEstimator / inferRaw, "F3");
        Line($"{prefix}_test_accuracy", accuracy, "F4");
    }

    /// <summary>Reads `--key value` from args, or the default.</summary>
    public static int Arg(string[] args, string key, int def)
    {
        int i = Array.IndexOf(args, key);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : def;
    }
}
