using TorchSharp;

namespace MLNetDeep.Runtime;

/// <summary>
/// LibTorch's intra-op thread count, as MLNetDeep sets it for training and scoring
/// (<see cref="Training.TrainerOptions.ThreadCount"/>, <see cref="Scoring.DeepTransformer.ThreadCount"/>).
/// </summary>
/// <remarks>
/// <para>
/// <c>torch.set_num_threads</c> is process-wide in name only. With LibTorch's OpenMP backend each thread keeps the team size
/// it had when it first ran a parallel operation, and a call sets the calling thread's size and the default that
/// threads starting later take. So MLNetDeep sets the count on the thread that trains (for the whole <c>Fit</c>) or
/// scores (for each batch of <c>Transform</c> or <c>PredictionEngine</c>) and puts the previous value back afterwards;
/// two fits on two threads can use different counts. Code of yours that calls TorchSharp on other threads keeps its own.
/// </para>
/// <para>
/// The default is the smaller of LibTorch's own default (its physical cores, or <c>OMP_NUM_THREADS</c>) and the CPUs
/// the process may use: <see cref="Environment.ProcessorCount"/> (the affinity mask, and the cgroup quota rounded up)
/// and the cgroup CPU quota read here. LibTorch alone ignores the quota: in a container limited to 2 CPUs on a 64-core
/// host it would run 32 spinning threads in 2 CPUs.
/// </para>
/// </remarks>
public static class TorchThreads
{
    private static readonly Lazy<int> InitialCount = new(() =>
    {
        TorchRuntime.EnsureLoaded();
        return torch.get_num_threads();
    });

    /// <summary>LibTorch's intra-op thread count before MLNetDeep changed it (its physical cores, or <c>OMP_NUM_THREADS</c>).</summary>
    public static int LibTorchDefault => InitialCount.Value;

    /// <summary>The cgroup CPU quota of the process (e.g. 1.5 CPUs), or null when there is none.</summary>
    public static double? CgroupQuota { get; } = CpuQuota.Read();

    /// <summary>CPUs the process may use: the affinity mask, and the cgroup quota rounded up.</summary>
    public static int AvailableCores => AvailableCoresFor(Environment.ProcessorCount, CgroupQuota);

    /// <summary>The thread count used when <c>ThreadCount</c> is not set: the smaller of <see cref="LibTorchDefault"/> and <see cref="AvailableCores"/>.</summary>
    public static int DefaultCount => Math.Max(1, Math.Min(LibTorchDefault, AvailableCores));

    /// <summary>The cores of <paramref name="processorCount"/> (already affinity-limited) further limited by a quota.</summary>
    internal static int AvailableCoresFor(int processorCount, double? quota) =>
        Math.Max(1, quota is double q ? Math.Min(processorCount, (int)Math.Ceiling(q - 1e-9)) : processorCount);

    /// <summary>The count a run uses: the requested one, else <see cref="DefaultCount"/>.</summary>
    internal static int Resolve(int? requested) => requested ?? DefaultCount;

    /// <summary>Why the count is what it is, for the log.</summary>
    internal static string Describe(int? requested) => requested is int n
        ? $"{n} (ThreadCount)"
        : $"{DefaultCount} (ThreadCount not set: the smaller of LibTorch's default {LibTorchDefault} and the {AvailableCores} CPUs this process may use" +
          (CgroupQuota is double q ? FormattableString.Invariant($", cgroup quota {q:0.##}") : "") + ")";

    /// <summary>Sets the calling thread's count until the returned scope is disposed (then the previous count is back).</summary>
    internal static Scope Use(int? requested)
    {
        TorchRuntime.EnsureLoaded();
        int wanted = Resolve(requested);
        int previous = torch.get_num_threads();
        if (previous != wanted) torch.set_num_threads(wanted);
        return new Scope(previous, previous != wanted);
    }

    /// <summary>
    /// Starts a background thread that runs LibTorch with one intra-op thread (a batch-preparation worker must not start
    /// a thread team of its own beside the training thread's). Returns once the worker has set its count; the caller's
    /// count, and the default for threads starting later, are put back as they were.
    /// </summary>
    internal static Thread StartSingleThreaded(Action body, string name)
    {
        int callers = torch.get_num_threads();
        var ready = new ManualResetEventSlim();
        var thread = new Thread(() =>
        {
            torch.get_num_threads(); // LibTorch gives a thread its count at its first use; take it now, then replace it
            torch.set_num_threads(1);
            ready.Set();
            body();
        }) { IsBackground = true, Name = name };
        thread.Start();
        ready.Wait();
        torch.set_num_threads(callers);
        return thread;
    }

    /// <summary>Puts the previous thread count back.</summary>
    internal readonly struct Scope : IDisposable
    {
        private readonly int _previous;
        private readonly bool _changed;

        internal Scope(int previous, bool changed) { _previous = previous; _changed = changed; }

        public void Dispose()
        {
            if (_changed) torch.set_num_threads(_previous);
        }
    }
}
