using System.Diagnostics;
using System.Globalization;
using MLNetDeep.Training;

namespace MLNetDeep.Runtime;

/// <summary>
/// Tells when the machine looks oversubscribed. LibTorch's intra-op threads spin while they wait for each other, so
/// when other work takes their cores training slows 15–30× (measured on the project's 2-core machines while tests ran
/// beside a benchmark). Two readings: the load average against the CPUs before training, and — the direct one — how
/// long this process's threads waited for a CPU while they were ready to run during the first seconds of training
/// (Linux's per-thread scheduler statistics, <c>/proc/self/task/*/schedstat</c>).
/// </summary>
internal static class CpuContention
{
    /// <summary>A warning when the 1-minute load average is well above the machine's CPUs, else null.</summary>
    public static string? FromLoad(double load1, int onlineCpus, int threads)
    {
        if (onlineCpus <= 0 || !(load1 >= 1.5 * onlineCpus && load1 >= onlineCpus + 1)) return null;
        return FormattableString.Invariant(
            $"The machine looks oversubscribed: the 1-minute load average is {load1:0.#} on {onlineCpus} CPUs, before this training starts. ") + Advice(threads);
    }

    /// <summary>
    /// A warning when this process's threads waited for a CPU longer than they ran over a window of
    /// <paramref name="seconds"/> (with at least half a second of running time to judge by), else null.
    /// </summary>
    public static string? FromWaiting(double runSeconds, double waitSeconds, double seconds, int threads)
    {
        if (runSeconds < 0.5 || waitSeconds <= runSeconds) return null;
        return FormattableString.Invariant(
            $"The machine looks oversubscribed: over the first {seconds:0.#} s of training this process's threads were ready to run but waiting for a CPU {100 * waitSeconds / (runSeconds + waitSeconds):0}% of the time ({waitSeconds:0.#} s waiting, {runSeconds:0.#} s running). ") + Advice(threads);
    }

    private static string Advice(int threads) =>
        $"LibTorch's threads spin while they wait for each other, so training can run 15-30x slower than on a quiet machine. " +
        $"Stop other CPU work (builds, test runs, another training), or lower ThreadCount (now {threads}; ThreadCount = 1 suffers least).";

    /// <summary>The 1-minute load average from <c>/proc/loadavg</c>'s text, or null.</summary>
    public static double? ParseLoad(string? loadavg)
    {
        var first = loadavg?.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return double.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
    }

    /// <summary>CPUs in a kernel CPU list such as "0-3,8,10-11" (<c>/sys/devices/system/cpu/online</c>), or null.</summary>
    public static int? ParseCpuList(string? list)
    {
        if (string.IsNullOrWhiteSpace(list)) return null;
        int count = 0;
        foreach (var part in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var ends = part.Split('-');
            if (!int.TryParse(ends[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int a)) return null;
            int b = a;
            if (ends.Length > 1 && !int.TryParse(ends[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out b)) return null;
            count += b - a + 1;
        }
        return count;
    }

    /// <summary>(running, waiting) nanoseconds from a <c>schedstat</c> line "run wait timeslices", or null.</summary>
    public static (long Run, long Wait)? ParseSchedstat(string? line)
    {
        var f = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (f is null || f.Length < 2) return null;
        return long.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var run)
               && long.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var wait) ? (run, wait) : null;
    }

    /// <summary>Each thread of this process: (running, waiting) nanoseconds so far; empty where Linux doesn't tell.</summary>
    public static Dictionary<string, (long Run, long Wait)> ThreadTimes()
    {
        var result = new Dictionary<string, (long, long)>();
        try
        {
            if (!Directory.Exists("/proc/self/task")) return result;
            foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
            {
                try
                {
                    if (ParseSchedstat(File.ReadAllText(Path.Combine(dir, "schedstat"))) is { } t) result[Path.GetFileName(dir)] = t;
                }
                catch (IOException) { } // the thread ended meanwhile
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return result;
    }

    /// <summary>Running and waiting time (seconds) of this process's threads between two readings of <see cref="ThreadTimes"/>.</summary>
    public static (double Run, double Wait) Between(Dictionary<string, (long Run, long Wait)> before, Dictionary<string, (long Run, long Wait)> after)
    {
        long run = 0, wait = 0;
        foreach (var (tid, now) in after)
        {
            var then = before.TryGetValue(tid, out var b) ? b : (0, 0);
            run += Math.Max(0, now.Run - then.Run);
            wait += Math.Max(0, now.Wait - then.Wait);
        }
        return (run / 1e9, wait / 1e9);
    }

    internal static string? ReadOrNull(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path) : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}

/// <summary>
/// The loop's component that writes <see cref="CpuContention"/>'s warnings to the log: the load average at the start,
/// and the measured waiting for a CPU after the first seconds of training (once per run).
/// </summary>
internal sealed class CpuContentionMonitor : TrainingCallback
{
    private readonly int _threads;
    private readonly double _window;
    private readonly Func<Dictionary<string, (long Run, long Wait)>> _times;
    private readonly Func<string, string?> _read;
    private Dictionary<string, (long Run, long Wait)>? _start;
    private Stopwatch? _clock;
    private bool _judged;

    /// <param name="threads">The run's intra-op thread count (for the advice).</param>
    /// <param name="windowSeconds">How long to measure before judging (the first epoch's end judges earlier).</param>
    /// <param name="times">Reads the threads' scheduler times (injected by tests).</param>
    /// <param name="readFile">Reads a /proc or /sys file (injected by tests).</param>
    public CpuContentionMonitor(int threads, double windowSeconds = 3,
        Func<Dictionary<string, (long Run, long Wait)>>? times = null, Func<string, string?>? readFile = null)
    {
        _threads = threads;
        _window = windowSeconds;
        _times = times ?? CpuContention.ThreadTimes;
        _read = readFile ?? CpuContention.ReadOrNull;
    }

    public override void OnTrainBegin(TrainingContext context)
    {
        int cpus = CpuContention.ParseCpuList(_read("/sys/devices/system/cpu/online")) ?? Environment.ProcessorCount;
        if (CpuContention.ParseLoad(_read("/proc/loadavg")) is double load && CpuContention.FromLoad(load, cpus, _threads) is string warning)
            context.Warn(warning);
        _start = _times();
        _clock = Stopwatch.StartNew();
    }

    public override void OnBatchEnd(TrainingContext context, int batch, double loss)
    {
        if (!_judged && _clock is not null && _clock.Elapsed.TotalSeconds >= _window) Judge(context);
    }

    public override void OnEpochEnd(TrainingContext context, EpochSummary summary)
    {
        if (!_judged && _clock is not null) Judge(context);
    }

    private void Judge(TrainingContext context)
    {
        if (_start is null || _start.Count == 0)
        {
            _judged = true; // Linux doesn't tell (or not Linux)
            return;
        }
        var (run, wait) = CpuContention.Between(_start, _times());
        if (run < 0.5) return; // too little running time to judge by: keep measuring
        _judged = true;
        if (CpuContention.FromWaiting(run, wait, _clock!.Elapsed.TotalSeconds, _threads) is string warning) context.Warn(warning);
    }
}
