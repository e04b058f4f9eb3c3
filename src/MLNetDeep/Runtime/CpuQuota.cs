using System.Globalization;

namespace MLNetDeep.Runtime;

/// <summary>
/// The CPU time a Linux control group allows the process, from cgroup v2's <c>cpu.max</c> or v1's
/// <c>cpu.cfs_quota_us</c> / <c>cpu.cfs_period_us</c> (a container started with <c>--cpus=2</c> on a 64-core host).
/// LibTorch sizes its thread team from the cores it sees and ignores the quota, so it would run 32 threads in 2 CPUs.
/// </summary>
internal static class CpuQuota
{
    /// <summary>
    /// CPUs the process's cgroup allows (e.g. 1.5), the smallest limit along the group's path; null when unlimited or
    /// not Linux. <paramref name="readFile"/> returns a file's text or null (injected by tests).
    /// </summary>
    public static double? Read(Func<string, string?>? readFile = null)
    {
        readFile ??= ReadOrNull;
        var cgroups = readFile("/proc/self/cgroup");
        if (cgroups is null) return null;
        double? limit = null;
        foreach (var line in cgroups.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // "hierarchy-id:controllers:path"; v2 is "0::/path", v1 lists its controllers ("4:cpu,cpuacct:/path").
            var parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            var controllers = parts[1].Split(',');
            string path = parts[2].Trim();
            if (parts[0] == "0" && parts[1].Length == 0)
                limit = Min(limit, Along(path, p => V2(readFile($"/sys/fs/cgroup{p}/cpu.max"))));
            else if (controllers.Contains("cpu"))
                foreach (var mount in new[] { "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct,cpu" })
                    limit = Min(limit, Along(path, p => V1(readFile($"{mount}{p}/cpu.cfs_quota_us"), readFile($"{mount}{p}/cpu.cfs_period_us"))));
        }
        return limit;
    }

    /// <summary>cgroup v2 <c>cpu.max</c>: "max 100000" (no limit) or "QUOTA PERIOD" in microseconds.</summary>
    public static double? V2(string? cpuMax)
    {
        if (cpuMax is null) return null;
        var f = cpuMax.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (f.Length < 1 || f[0] == "max") return null;
        long period = f.Length > 1 && long.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : 100_000;
        return long.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var quota) && quota > 0 && period > 0
            ? (double)quota / period : null;
    }

    /// <summary>cgroup v1: <c>cpu.cfs_quota_us</c> (−1 = no limit) over <c>cpu.cfs_period_us</c>.</summary>
    public static double? V1(string? quotaText, string? periodText)
    {
        if (quotaText is null || periodText is null) return null;
        if (!long.TryParse(quotaText.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var quota) || quota <= 0) return null;
        if (!long.TryParse(periodText.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var period) || period <= 0) return null;
        return (double)quota / period;
    }

    /// <summary>The smallest limit from the group up to the root (a parent's limit binds its children); inside a container the group is often its mount's root.</summary>
    private static double? Along(string path, Func<string, double?> at)
    {
        double? limit = null;
        string p = path == "/" ? "" : path.TrimEnd('/');
        while (true)
        {
            limit = Min(limit, at(p));
            if (p.Length == 0) break;
            int cut = p.LastIndexOf('/');
            p = cut <= 0 ? "" : p[..cut];
        }
        return limit;
    }

    private static double? Min(double? a, double? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private static string? ReadOrNull(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path) : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
