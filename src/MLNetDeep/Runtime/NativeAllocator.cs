using System.Runtime.InteropServices;

namespace MLNetDeep.Runtime;

/// <summary>
/// Keeps glibc's malloc from handing LibTorch's large, short-lived buffers back to the kernel after every batch.
/// </summary>
/// <remarks>
/// glibc serves blocks above a (dynamic) threshold with <c>mmap</c> and trims the heap top when much of it is free,
/// so a batch's activations (a few to tens of MB) come back as fresh zero-filled pages on every forward pass. On the
/// project's machines that page-fault traffic made CNN scoring 2–3× slower and its speed erratic. LibTorch's CPU
/// allocator has no cache of its own (PyTorch recommends jemalloc or tcmalloc for the same reason).
/// <see cref="TorchRuntime.EnsureLoaded"/> therefore fixes the mmap threshold at glibc's maximum (32 MiB) and trims only
/// beyond 1 GiB of free heap. The cost: memory freed by LibTorch stays in the process (its peak, not growth). The
/// environment wins: if <c>MALLOC_MMAP_THRESHOLD_</c> or <c>MALLOC_TRIM_THRESHOLD_</c> is set, or
/// <c>MLNETDEEP_TUNE_MALLOC=0</c>, nothing is changed. Not glibc (Windows, macOS, musl): nothing to do.
/// </remarks>
public static class NativeAllocator
{
    private const int MTrimThreshold = -1, MMmapThreshold = -3;
    /// <summary>glibc's upper limit for M_MMAP_THRESHOLD on 64-bit systems.</summary>
    internal const int MmapThresholdBytes = 32 * 1024 * 1024;
    internal const int TrimThresholdBytes = 1024 * 1024 * 1024;
    private static readonly object Gate = new();
    private static bool? _tuned;

    /// <summary>Whether the tuning is in effect in this process (false where it was declined, or isn't glibc).</summary>
    public static bool IsTuned => _tuned == true;

    /// <summary>Applies the tuning once per process (see remarks); returns whether it is in effect.</summary>
    public static bool TuneOnce()
    {
        lock (Gate)
        {
            _tuned ??= Tune(Environment.GetEnvironmentVariable);
            return _tuned.Value;
        }
    }

    /// <summary>Why the tuning is declined in an environment, or null when it should be applied.</summary>
    internal static string? Declined(Func<string, string?> env)
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (env("MLNETDEEP_TUNE_MALLOC") is "0" or "false") return "MLNETDEEP_TUNE_MALLOC=0";
        if (env("MALLOC_MMAP_THRESHOLD_") is not null || env("MALLOC_TRIM_THRESHOLD_") is not null)
            return "the environment sets glibc's malloc thresholds";
        return null;
    }

    private static bool Tune(Func<string, string?> env)
    {
        if (Declined(env) is not null) return false;
        try
        {
            // mallopt returns 1 on success; musl's stub returns 0.
            return mallopt(MMmapThreshold, MmapThresholdBytes) == 1 && mallopt(MTrimThreshold, TrimThresholdBytes) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc.so.6", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
