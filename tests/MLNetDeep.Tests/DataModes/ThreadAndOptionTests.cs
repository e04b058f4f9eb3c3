using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Data;
using MLNetDeep.Runtime;
using MLNetDeep.Tests.Control;
using Xunit;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.DataModes;

/// <summary>The thread-count option, the cgroup quota it defaults from, the oversubscription warnings, and the data options' checks.</summary>
[Trait("Category", "Unit")]
public sealed class ThreadAndOptionTests
{
    [Fact]
    public void The_cgroup_v2_quota_is_read_from_cpu_max_taking_the_smallest_limit_up_the_tree()
    {
        var files = new Dictionary<string, string>
        {
            ["/proc/self/cgroup"] = "0::/kubepods/pod1/container\n",
            ["/sys/fs/cgroup/kubepods/pod1/container/cpu.max"] = "max 100000\n",
            ["/sys/fs/cgroup/kubepods/pod1/cpu.max"] = "150000 100000\n",
            ["/sys/fs/cgroup/kubepods/cpu.max"] = "400000 100000\n",
            ["/sys/fs/cgroup/cpu.max"] = "max 100000\n",
        };
        Assert.Equal(1.5, CpuQuota.Read(p => files.GetValueOrDefault(p)));
        Assert.Null(CpuQuota.Read(p => p == "/proc/self/cgroup" ? "0::/\n" : p == "/sys/fs/cgroup/cpu.max" ? "max 100000" : null));
        Assert.Null(CpuQuota.Read(_ => null)); // not Linux, or no cgroup files
        Assert.Equal(2, CpuQuota.V2("200000 100000"));
        Assert.Equal(0.5, CpuQuota.V2("50000"));  // the period defaults to 100 ms
        Assert.Null(CpuQuota.V2("max"));
        Assert.Null(CpuQuota.V2("garbage 100000"));
    }

    [Fact]
    public void The_cgroup_v1_quota_is_read_from_cfs_quota_and_period()
    {
        var files = new Dictionary<string, string>
        {
            ["/proc/self/cgroup"] = "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n",
            ["/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us"] = "250000\n",
            ["/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us"] = "100000\n",
        };
        Assert.Equal(2.5, CpuQuota.Read(p => files.GetValueOrDefault(p)));
        // Inside the container the group is often the mount's root.
        var inside = new Dictionary<string, string>
        {
            ["/proc/self/cgroup"] = "4:cpu,cpuacct:/docker/abc\n",
            ["/sys/fs/cgroup/cpu/cpu.cfs_quota_us"] = "100000",
            ["/sys/fs/cgroup/cpu/cpu.cfs_period_us"] = "100000",
        };
        Assert.Equal(1, CpuQuota.Read(p => inside.GetValueOrDefault(p)));
        Assert.Null(CpuQuota.V1("-1", "100000")); // no limit (this machine's own setting)
        Assert.Null(CpuQuota.V1("100000", "0"));
    }

    [Fact]
    public void The_default_thread_count_is_the_smaller_of_LibTorchs_default_and_the_cpus_the_process_may_use()
    {
        Assert.Equal(2, TorchThreads.AvailableCoresFor(64, 1.5)); // a 1.5-CPU container on a 64-core host: 2, not 32
        Assert.Equal(4, TorchThreads.AvailableCoresFor(4, null));
        Assert.Equal(4, TorchThreads.AvailableCoresFor(4, 6));   // the affinity mask (already in ProcessorCount) binds
        Assert.Equal(1, TorchThreads.AvailableCoresFor(8, 0.2));
        Assert.Equal(Math.Min(TorchThreads.LibTorchDefault, TorchThreads.AvailableCores), TorchThreads.DefaultCount);
        Assert.True(TorchThreads.AvailableCores <= Environment.ProcessorCount);
        Assert.Equal(3, TorchThreads.Resolve(3));
        Assert.Equal(TorchThreads.DefaultCount, TorchThreads.Resolve(null));
    }

    [Fact]
    public void Fit_and_scoring_set_the_thread_count_on_their_thread_and_put_the_previous_one_back()
    {
        int before = -1, during = -1, after = -1, scoringAfter = -1;
        int? modelThreads = null;
        var ml = new MLContext(seed: 1);
        var train = DataKit.Floats(ml, 200);
        var thread = new Thread(() =>
        {
            set_num_threads(2);
            before = get_num_threads();
            var o = DataKit.Cnn(new DataOptions(), epochs: 1);
            o.ThreadCount = 1;
            o.Callbacks.Add(new ControlKit.Hook { BeforeStep = _ => during = get_num_threads() }); // callbacks run on the training thread
            using var model = DataKit.Fit(o, train);
            after = get_num_threads();
            modelThreads = model.ThreadCount;
            model.Transform(train).GetColumn<float[]>("Score").ToArray();
            scoringAfter = get_num_threads();
        });
        thread.Start();
        thread.Join();
        Assert.Equal((2, 1, 2, 2), (before, during, after, scoringAfter));
        Assert.Equal(1, modelThreads);
    }

    [Fact]
    public void A_thread_count_below_one_is_refused_naming_the_option_and_the_value()
    {
        var o = DataKit.Cnn(new DataOptions(), epochs: 1);
        o.ThreadCount = 0;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DataKit.Fit(o, DataKit.Floats(new MLContext(1), 50)));
        Assert.Contains("ThreadCount must be >= 1", e.Message);
        Assert.Contains("Received: ThreadCount=0", e.Message);
    }

    [Fact]
    public void The_oversubscription_warning_fires_on_a_high_load_or_long_waits_for_a_cpu_and_not_otherwise()
    {
        var load = CpuContention.FromLoad(31.9, 2, 2);
        Assert.NotNull(load);
        Assert.Contains("load average is 31.9 on 2 CPUs", load);
        Assert.Contains("ThreadCount (now 2", load);
        Assert.Null(CpuContention.FromLoad(2.5, 2, 2));   // a little over: tests and the build finishing
        Assert.Null(CpuContention.FromLoad(40, 32, 32));
        Assert.NotNull(CpuContention.FromLoad(60, 32, 32));

        var waits = CpuContention.FromWaiting(runSeconds: 1.0, waitSeconds: 3.0, seconds: 3, threads: 2);
        Assert.NotNull(waits);
        Assert.Contains("waiting for a CPU 75% of the time (3 s waiting, 1 s running)", waits);
        Assert.Null(CpuContention.FromWaiting(5.8, 0.2, 3, 2));  // a quiet machine
        Assert.Null(CpuContention.FromWaiting(0.2, 5.0, 3, 2));  // too little running time to judge by

        Assert.Equal(31.9, CpuContention.ParseLoad("31.90 28.07 25.62 9/284 353"));
        Assert.Equal(2, CpuContention.ParseCpuList("0-1\n"));
        Assert.Equal(7, CpuContention.ParseCpuList("0-3,8,10-11"));
        Assert.Equal((123L, 456L), CpuContention.ParseSchedstat("123 456 7\n")!.Value);
        var before = new Dictionary<string, (long, long)> { ["1"] = (1_000_000_000, 0), ["2"] = (0, 0) };
        var after = new Dictionary<string, (long, long)> { ["1"] = (2_000_000_000, 3_000_000_000), ["3"] = (500_000_000, 0) };
        Assert.Equal((1.5, 3.0), CpuContention.Between(before, after)); // thread 2 ended; thread 3 started in between
        if (OperatingSystem.IsLinux())
            Assert.Contains(CpuContention.ThreadTimes().Values, t => t.Run > 0);
    }

    [Fact]
    public void Data_options_are_checked_naming_the_option_the_value_and_the_fix()
    {
        string Message(DataOptions d)
        {
            var o = DataKit.Cnn(d, epochs: 1);
            return Assert.ThrowsAny<ArgumentException>(() => DataKit.Fit(o, DataKit.Floats(new MLContext(1), 20))).Message;
        }
        Assert.Contains("Received: Mode=7", Message(new DataOptions { Mode = (DataMode)7 }));
        Assert.Contains("Data.MemoryBudgetBytes must be > 0 bytes, or null for half of the process's memory. Received: MemoryBudgetBytes=0",
            Message(new DataOptions { MemoryBudgetBytes = 0 }));
        Assert.Contains("Received: ShuffleBufferRows=-4", Message(new DataOptions { ShuffleBufferRows = -4 }));
        Assert.Contains("(0 = prepare batches on the training thread). Received: PrefetchBatches=-1", Message(new DataOptions { PrefetchBatches = -1 }));
        Assert.Contains("Data.ByteScaling must be set", Message(new DataOptions { ByteScaling = null! }));
        Assert.Contains("Data.ByteScaling.Scale must be finite and not 0", Message(new DataOptions { ByteScaling = new ByteScaling(0) }));
        Assert.Contains("Received: Offset=Infinity", Message(new DataOptions { ByteScaling = new ByteScaling(1, float.PositiveInfinity) }));
        var none = DataKit.Cnn(new DataOptions(), epochs: 1);
        none.Data = null!;
        Assert.Contains("Data must be set", Assert.Throws<ArgumentNullException>(() => DataKit.Fit(none, DataKit.Floats(new MLContext(1), 20))).Message);
    }

    [Fact]
    public void Prefetching_zero_batches_trains_the_same_weights_on_the_training_thread()
    {
        var ml = new MLContext(seed: 1);
        var train = DataKit.Floats(ml, 400);
        using var ahead = DataKit.Fit(DataKit.Cnn(new DataOptions { Mode = DataMode.Streaming, ShuffleBufferRows = 100 }), train);
        using var inline = DataKit.Fit(DataKit.Cnn(new DataOptions { Mode = DataMode.Streaming, ShuffleBufferRows = 100, PrefetchBatches = 0 }), train);
        Assert.Empty(DataKit.Differences(ahead, inline));
    }
}
