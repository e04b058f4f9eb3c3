using MLNetDeep.Sweeps;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Sweeps;

[Trait("Category", "Training")]
public class StorageTests
{
    private readonly ITestOutputHelper _out;
    public StorageTests(ITestOutputHelper output) { _out = output; }

    private static readonly string[] Synthetic = { "--objective", "synthetic", "--epochs", "3" };

    [Fact]
    public void Sqlite_kill_and_resume_loses_nothing_reruns_nothing_and_retries_the_interrupted_trial()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"mlnd-sweep-{Guid.NewGuid():N}");
        var db = Path.Combine(dir, "sweep.db");
        try
        {
            string[] args = new[] { "worker", "--storage", "sqlite:" + db, "--sweep", "kill-test", "--trials", "8", "--epoch-ms", "400" }.Concat(Synthetic).ToArray();
            List<TrialRecord> before;
            using (var first = new WorkerProcess(args))
            {
                Assert.True(first.WaitForLine("trial 3 started", TimeSpan.FromSeconds(90)), "the worker never reached trial 3:\n" + first.Output);
                // Inside trial 3 (3 epochs of 400 ms): killed in its first epoch, or its second when the machine is slow to pass
                // the line on; a whole trial's 1.2 s leaves room for a busy machine (150 ms epochs let it finish first there).
                Thread.Sleep(150);
                first.Kill();
                _out.WriteLine("first run (killed):\n" + first.Output);
            }
            using (var peek = new SqliteSweepStorage(db)) before = peek.LoadTrials("kill-test").ToList(); // no Open: look, don't reset
            Assert.Equal(4, before.Count);
            Assert.All(before.Take(3), t => Assert.Equal(TrialStatus.Completed, t.Status));
            Assert.Equal(TrialStatus.Running, before[3].Status);

            using (var second = new WorkerProcess(args))
            {
                Assert.Equal(0, second.WaitForExit(TimeSpan.FromSeconds(120)));
                _out.WriteLine("second run:\n" + second.Output);
                var started = second.Lines.Where(l => l.Contains(" started")).ToList();
                Assert.Contains("trial 3 started", started[0]);
                Assert.Contains("(attempt 2)", started[0]);
                Assert.DoesNotContain(started, l => l.Contains("trial 0 started") || l.Contains("trial 1 started") || l.Contains("trial 2 started"));
                Assert.Equal(5, started.Count); // trials 3..7
            }
            using var storage = new SqliteSweepStorage(db);
            var after = storage.LoadTrials("kill-test");
            Assert.Equal(8, after.Count);
            Assert.Equal(Enumerable.Range(0, 8), after.Select(t => t.Number));
            Assert.All(after, t => Assert.Equal(TrialStatus.Completed, t.Status));
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(before[i].Value, after[i].Value);
                Assert.Equal(before[i].EndedAt, after[i].EndedAt);   // not re-run
                Assert.Equal(1, after[i].Attempts);
            }
            Assert.Equal(before[3].Parameters.ToJson(), after[3].Parameters.ToJson()); // retried with the same parameters
            Assert.Equal(2, after[3].Attempts);
            Assert.Equal(new[] { 1, 2, 3 }, after[3].Intermediate.Keys);
            Assert.Equal(8, after.Select(t => t.Parameters.ToJson()).Distinct().Count());
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, recursive: true); } catch { }
        }
    }

    [Fact]
    public void Sqlite_storage_round_trips_trials_and_refuses_a_different_space()
    {
        var db = Path.Combine(Path.GetTempPath(), $"mlnd-sweep-{Guid.NewGuid():N}.db");
        try
        {
            var space = new SearchSpace().Add("lr", SearchDimension.Float(1e-4, 1e-1, logScale: true)).Add("k", SearchDimension.Choice(1, 2, 3)).Add("name", SearchDimension.Choice("a", "b"));
            SweepResult first;
            using (var s = new SqliteSweepStorage(db))
                first = Sweeper.Run(space, new FunctionObjective(c =>
                {
                    for (int e = 1; e <= 2; e++) c.Report(e, e * 0.25);
                    if (c.Number == 2) throw new InvalidOperationException("boom");
                    return c.Parameters.Get<double>("lr") * c.Parameters.Get<int>("k");
                }), new SweepOptions { Storage = s, MaxTrials = 5, Tuner = new RandomTuner { Seed = 9 } });
            using (var s = new SqliteSweepStorage(db))
            {
                var back = s.LoadTrials("sweep");
                Assert.Equal(first.Trials.Select(t => (t.Number, t.Status, t.Value, t.Parameters.ToJson(), t.Error)),
                    back.Select(t => (t.Number, t.Status, t.Value, t.Parameters.ToJson(), t.Error)));
                Assert.Equal(new[] { 0.25, 0.5 }, back[0].Intermediate.Values);
                // the tuner sees the stored history: the sweep continues to 8 without repeating a trial
                var more = Sweeper.Run(space, new FunctionObjective(c => 1.0), new SweepOptions { Storage = s, MaxTrials = 8, Tuner = new RandomTuner { Seed = 9 } });
                Assert.Equal(3, more.TrialsRunHere);
                Assert.Equal(8, more.Trials.Select(t => t.Parameters.ToJson()).Distinct().Count());
                var other = new SearchSpace().Add("lr", SearchDimension.Float(1e-5, 1e-1, logScale: true));
                var e = Assert.Throws<InvalidOperationException>(() => Sweeper.Run(other, new FunctionObjective(c => 1.0), new SweepOptions { Storage = s }));
                Assert.Contains("different search space", e.Message);
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var f in new[] { db, db + "-wal", db + "-shm" }) if (File.Exists(f)) File.Delete(f);
        }
    }

    [SkippableFact]
    public void Postgres_two_workers_run_disjoint_trials_of_one_sweep()
    {
        var (bin, reason) = PostgresServer.Available;
        Skip.If(bin is null, reason);
        using var server = PostgresServer.Start();
        _out.WriteLine($"PostgreSQL from {bin} on 127.0.0.1:{server.Port}");
        string[] args = new[] { "worker", "--storage", "postgres:" + server.ConnectionString, "--sweep", "two-workers", "--trials", "12", "--epoch-ms", "40" }.Concat(Synthetic).ToArray();
        using (var a = new WorkerProcess(args))
        using (var b = new WorkerProcess(args))
        {
            Assert.Equal(0, a.WaitForExit(TimeSpan.FromSeconds(120)));
            Assert.Equal(0, b.WaitForExit(TimeSpan.FromSeconds(120)));
            _out.WriteLine("worker A:\n" + a.Output + "\nworker B:\n" + b.Output);
            var startedA = a.Lines.Where(l => l.Contains(" started")).Select(l => l[(l.IndexOf("trial ") + 6)..].Split(' ')[0]).ToList();
            var startedB = b.Lines.Where(l => l.Contains(" started")).Select(l => l[(l.IndexOf("trial ") + 6)..].Split(' ')[0]).ToList();
            Assert.Empty(startedA.Intersect(startedB));   // disjoint
            Assert.Equal(12, startedA.Count + startedB.Count);
            Assert.NotEmpty(startedA);
            Assert.NotEmpty(startedB);
        }
        using var storage = new PostgresSweepStorage(server.ConnectionString);
        var trials = storage.LoadTrials("two-workers");
        Assert.Equal(Enumerable.Range(0, 12), trials.Select(t => t.Number));
        Assert.All(trials, t => Assert.Equal(TrialStatus.Completed, t.Status));
        Assert.All(trials, t => Assert.Equal(1, t.Attempts));
        Assert.Equal(2, trials.Select(t => t.Worker).Distinct().Count());
        Assert.Equal(12, trials.Select(t => t.Parameters.ToJson()).Distinct().Count());

        // an interrupted trial (Running, lease expired) is taken by exactly one of two concurrent claimers
        using var s2 = new PostgresSweepStorage(server.ConnectionString) { LeaseTimeout = TimeSpan.FromSeconds(1.5) };
        var space = new SearchSpace().Add("x", SearchDimension.Choice(1, 2, 3, 4));
        s2.Open(new SweepDefinition { Name = "lease", Space = space.Describe(), Metric = "m", Direction = "maximize" });
        var t0 = s2.ClaimNext("lease", "dead-worker", 10, h => new GridTuner().Suggest(space, h, h.Count, OptimizationDirection.Maximize))!;
        Thread.Sleep(2000); // the dead worker's lease expires
        var claims = Enumerable.Range(0, 2).AsParallel().Select(i => s2.ClaimNext("lease", $"w{i}", 10, h => new GridTuner().Suggest(space, h, h.Count, OptimizationDirection.Maximize))!).ToList();
        Assert.Equal(2, claims.Select(c => c.Number).Distinct().Count());
        Assert.Contains(claims, c => c.Number == t0.Number && c.Attempts == 2);
    }
}
