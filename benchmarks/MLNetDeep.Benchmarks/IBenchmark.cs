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

    /// <summary>Reads `--key value` from args, or the default.</summary>
    public static int Arg(string[] args, string key, int def)
    {
        int i = Array.IndexOf(args, key);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : def;
    }
}
