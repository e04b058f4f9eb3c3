using MLNetDeep.Sweeps;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Sweeps;

[Trait("Category", "Unit")]
public class TunerTests
{
    private readonly ITestOutputHelper _out;
    public TunerTests(ITestOutputHelper output) { _out = output; }

    private static SearchSpace MixedSpace() => new SearchSpace()
        .Add("lr", SearchDimension.Float(1e-5, 1e-1, logScale: true))
        .Add("x", SearchDimension.Float(0, 1))
        .Add("depth", SearchDimension.Int(1, 8))
        .Add("opt", SearchDimension.Choice("a", "b", "c"));

    /// <summary>A cheap synthetic loss (minimise): optimum at lr=10^-2.5, x=0.3, depth=3, opt=b.</summary>
    private static double Loss(TrialParameters p) =>
        Math.Pow(Math.Log10(p.Get<double>("lr")) + 2.5, 2) + 4 * Math.Pow(p.Get<double>("x") - 0.3, 2)
        + 0.1 * Math.Pow(p.Get<int>("depth") - 3, 2) + (p.Get<string>("opt") == "b" ? 0 : 0.5);

    [Fact]
    public void Grid_covers_the_grid_exactly_once()
    {
        var space = new SearchSpace()
            .Add("opt", SearchDimension.Choice("adam", "sgd"))
            .Add("depth", SearchDimension.Int(1, 3))
            .Add("lr", SearchDimension.Float(1e-4, 1e-2, logScale: true));
        var tuner = new GridTuner { PointsPerRange = 3 };
        Assert.Equal(18, tuner.Size(space));
        var result = Sweeper.Run(space, new FunctionObjective(c => -Math.Abs(Math.Log10(c.Parameters.Get<double>("lr")) + 3)),
            new SweepOptions { Tuner = tuner, MaxTrials = 100 });
        Assert.Equal(18, result.Trials.Count);
        Assert.StartsWith("tuner exhausted", result.EndReason);
        var seen = result.Trials.Select(t => t.Parameters.ToJson()).ToList();
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(space.Grid(3).Select(p => p.ToJson()).OrderBy(s => s), seen.OrderBy(s => s));
        var lrs = result.Trials.Select(t => t.Parameters.Get<double>("lr")).Distinct().OrderBy(x => x).ToArray();
        Assert.Equal(new[] { 1e-4, 1e-3, 1e-2 }, lrs.Select(x => Math.Round(x, 12)));  // log-spaced grid points
        Assert.Equal(1e-3, result.BestParameters!.Get<double>("lr"), 9);
    }

    [Fact]
    public void Random_tuner_is_reproducible_per_trial_number_and_respects_ranges()
    {
        var space = MixedSpace();
        var t = new RandomTuner { Seed = 42 };
        var a = Enumerable.Range(0, 50).Select(i => t.Suggest(space, Array.Empty<TrialRecord>(), i, OptimizationDirection.Minimize)!).ToList();
        var b = Enumerable.Range(0, 50).Select(i => t.Suggest(space, Array.Empty<TrialRecord>(), i, OptimizationDirection.Minimize)!).ToList();
        Assert.Equal(a.Select(p => p.ToJson()), b.Select(p => p.ToJson()));
        Assert.Equal(50, a.Select(p => p.ToJson()).Distinct().Count());
        foreach (var p in a)
        {
            Assert.InRange(p.Get<double>("lr"), 1e-5, 1e-1);
            Assert.InRange(p.Get<int>("depth"), 1, 8);
        }
    }

    [Fact]
    public void Tpe_beats_random_on_a_synthetic_objective_over_many_seeds()
    {
        const int seeds = 20, trials = 40;
        double sumTpe = 0, sumRandom = 0;
        int tpeWins = 0;
        for (int s = 0; s < seeds; s++)
        {
            double Best(ITuner tuner) => Sweeper.Run(MixedSpace(), new FunctionObjective(c => Loss(c.Parameters)),
                new SweepOptions { Tuner = tuner, MaxTrials = trials, Direction = OptimizationDirection.Minimize, MetricName = "loss" })
                .BestTrial!.Value!.Value;
            double tpe = Best(new TpeTuner { Seed = s }), random = Best(new RandomTuner { Seed = s });
            sumTpe += tpe; sumRandom += random;
            if (tpe < random) tpeWins++;
        }
        _out.WriteLine($"mean best loss over {seeds} seeds x {trials} trials: TPE {sumTpe / seeds:F4}, random {sumRandom / seeds:F4}; TPE better in {tpeWins}/{seeds}");
        Assert.True(sumTpe < 0.6 * sumRandom, $"TPE mean {sumTpe / seeds:F4} should be well below random's {sumRandom / seeds:F4}");
        Assert.True(tpeWins >= seeds * 0.65, $"TPE won {tpeWins}/{seeds}");
    }

    [Fact]
    public void Failing_and_diverging_trials_are_recorded_as_failed_and_the_sweep_goes_on()
    {
        var space = new SearchSpace().Add("x", SearchDimension.Float(0, 1));
        var ended = new List<TrialRecord>();
        var result = Sweeper.Run(space, new FunctionObjective(c =>
        {
            if (c.Number == 1) throw new InvalidOperationException("bad combination");
            if (c.Number == 2) return double.NaN;
            return c.Parameters.Get<double>("x");
        }), new SweepOptions { Tuner = new RandomTuner(), MaxTrials = 6, OnTrialEnd = ended.Add });
        Assert.Equal(6, result.Trials.Count);
        Assert.Equal(6, ended.Count);
        Assert.Equal(TrialStatus.Failed, result.Trials[1].Status);
        Assert.Contains("bad combination", result.Trials[1].Error);
        Assert.Equal(TrialStatus.Failed, result.Trials[2].Status);
        Assert.Contains("diverged", result.Trials[2].Error);
        Assert.Equal(4, result.Completed);
        Assert.NotNull(result.BestTrial);
        Assert.DoesNotContain(result.BestTrial!.Number, new[] { 1, 2 });
    }

    [Fact]
    public void Asha_stops_most_trials_early_and_keeps_a_near_best_one()
    {
        // Learning curves: value(e) = q·(1 − 0.6·e^(−e/τ)) + small noise; q depends on the parameters, τ (mildly) on one of them.
        var space = new SearchSpace()
            .Add("lr", SearchDimension.Float(1e-4, 1e-1, logScale: true))
            .Add("width", SearchDimension.Choice(32, 64, 128));
        static double Quality(TrialParameters p) => 0.9 - 0.08 * Math.Pow(Math.Log10(p.Get<double>("lr")) + 2.5, 2) + (p.Get<int>("width") == 64 ? 0.02 : 0);
        const int maxEpochs = 9;
        int epochsSpent = 0;
        double Curve(TrialParameters p, int e, int trial)
        {
            double tau = 1.5 + 0.25 * p.Get<int>("width") / 64.0; // wider nets start a little slower: curves may cross
            double noise = 0.004 * Math.Sin(trial * 12.9898 + e * 78.233);
            return Quality(p) * (1 - 0.6 * Math.Exp(-e / tau)) + noise;
        }
        var objective = new FunctionObjective(c =>
        {
            c.MaxEpochs = maxEpochs;
            double v = 0;
            for (int e = 1; e <= maxEpochs; e++)
            {
                epochsSpent++;
                v = Curve(c.Parameters, e, c.Number);
                if (c.Report(e, v)) break;
            }
            return v;
        });
        var asha = Sweeper.Run(space, objective, new SweepOptions { Tuner = new RandomTuner { Seed = 3 }, MaxTrials = 27, Scheduler = new AshaScheduler { ReductionFactor = 3 } });
        int ashaEpochs = epochsSpent;
        epochsSpent = 0;
        var full = Sweeper.Run(space, objective, new SweepOptions { Tuner = new RandomTuner { Seed = 3 }, MaxTrials = 27 });
        _out.WriteLine($"ASHA: {asha.Pruned}/27 stopped early, {ashaEpochs} epochs, best {asha.BestTrial!.Value:F4}; full runs: {epochsSpent} epochs, best {full.BestTrial!.Value:F4}");
        Assert.True(asha.Pruned >= 27 / 2, $"ASHA stopped {asha.Pruned}/27");
        Assert.Equal(0, full.Pruned);
        Assert.True(asha.BestTrial!.Value >= full.BestTrial!.Value - 0.01);
        Assert.True(ashaEpochs < epochsSpent / 2);
        // a pruned trial keeps the epochs it ran and its last value
        var p = asha.Trials.First(t => t.Status == TrialStatus.Pruned);
        Assert.Equal(p.Intermediate.Last().Value, p.Value);
        Assert.Contains("ASHA", p.Error);
        Assert.True(p.Intermediate.Keys.Max() < maxEpochs);
    }

    [Fact]
    public void Initial_trials_run_first_then_the_tuner_takes_over()
    {
        var space = CnnSweep.DefaultSpace();
        var defaults = CnnSweep.Defaults(space);
        Assert.Equal(1e-3, defaults.Get<double>("LearningRate"));
        Assert.Equal(0.5, defaults.Get<double>("Head.Dropout"));
        var result = Sweeper.Run(space, new FunctionObjective(c => c.Parameters.Get<double>("LearningRate")),
            new SweepOptions { MaxTrials = 3, Tuner = new RandomTuner(), InitialTrials = new[] { defaults } });
        Assert.Equal(defaults.ToJson(), result.Trials[0].Parameters.ToJson());
        Assert.NotEqual(defaults.ToJson(), result.Trials[1].Parameters.ToJson());
        var bound = space.Bind(result.Trials[0].Parameters);
        Assert.Equal(new CnnSearchParameters().Head.HiddenSize, bound.Head.HiddenSize);
    }

    [Fact]
    public void Asha_rungs_are_geometric()
    {
        var s = new AshaScheduler { MinEpochs = 2, ReductionFactor = 3 };
        Assert.Equal(new[] { 2, 6, 18 }, Enumerable.Range(1, 20).Where(s.IsRung));
        Assert.False(s.DecidesAt(6, 6)); // never at the trial's last epoch
        Assert.Throws<ArgumentOutOfRangeException>(() => new AshaScheduler { ReductionFactor = 1 }.IsRung(1));
    }

    [Fact]
    public void Cancellation_hands_the_running_trial_back_for_a_later_run()
    {
        var storage = new InMemorySweepStorage();
        var space = new SearchSpace().Add("x", SearchDimension.Float(0, 1));
        using var cts = new CancellationTokenSource();
        var opts = new SweepOptions { Tuner = new RandomTuner(), MaxTrials = 5, Storage = storage };
        var first = Sweeper.Run(space, new FunctionObjective(c =>
        {
            if (c.Number == 2) { cts.Cancel(); c.Report(1, 0.5); }
            return c.Parameters.Get<double>("x");
        }), opts, cancellationToken: cts.Token);
        Assert.Equal("cancelled", first.EndReason);
        Assert.Equal(TrialStatus.Pending, first.Trials[2].Status);
        var runs = new List<int>();
        var second = Sweeper.Run(space, new FunctionObjective(c => { runs.Add(c.Number); return c.Parameters.Get<double>("x"); }), opts);
        Assert.Equal(new[] { 2, 3, 4 }, runs);
        Assert.Equal(5, second.Completed);
        Assert.Equal(first.Trials[2].Parameters.ToJson(), second.Trials[2].Parameters.ToJson());
        Assert.Equal(2, second.Trials[2].Attempts);
    }

    [Fact]
    public void Wall_time_budget_stops_the_sweep_and_hands_the_trial_in_flight_back()
    {
        var storage = new InMemorySweepStorage();
        var space = new SearchSpace().Add("x", SearchDimension.Float(0, 1));
        var result = Sweeper.Run(space, new FunctionObjective(c =>
        {
            for (int e = 1; e <= 100; e++) { Thread.Sleep(20); if (c.Report(e, 0.5)) break; }
            return 0.5;
        }), new SweepOptions { Tuner = new RandomTuner(), MaxTrials = 10, MaxWallTime = TimeSpan.FromMilliseconds(300), Storage = storage });
        Assert.Equal("wall time", result.EndReason);
        Assert.Single(result.Trials);
        Assert.Equal(TrialStatus.Pending, result.Trials[0].Status);
        Assert.Contains("interrupted", result.Trials[0].Error);
    }

    [Fact]
    public void Bad_sweep_options_throw_naming_the_option_and_value()
    {
        var space = new SearchSpace().Add("x", SearchDimension.Float(0, 1));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Sweeper.Run(space, new FunctionObjective(c => 0), new SweepOptions { MaxTrials = 0 }));
        Assert.Contains("MaxTrials", e.Message);
        Assert.Contains("Received: MaxTrials=0", e.Message);
        Assert.Throws<ArgumentException>(() => Sweeper.Run(new SearchSpace(), new FunctionObjective(c => 0), new SweepOptions()));
        Assert.Throws<ArgumentOutOfRangeException>(() => SweepMetric.FromName("accuracyy"));
        Assert.Equal(OptimizationDirection.Minimize, SweepMetric.FromName("RMSE").Direction);
    }

    [Fact]
    public void Results_table_has_every_trial_parameter_and_epoch()
    {
        var space = new SearchSpace().Add("x", SearchDimension.Float(0, 1)).Add("name", SearchDimension.Choice("a,b", "c"));
        var result = Sweeper.Run(space, new FunctionObjective(c =>
        {
            for (int e = 1; e <= 3; e++) c.Report(e, e * 0.1);
            if (c.Number == 1) throw new Exception("boom, \"quoted\"");
            return 0.3;
        }), new SweepOptions { Tuner = new RandomTuner(), MaxTrials = 3 });
        var csv = result.ToTable().ToCsv();
        var lines = csv.TrimEnd().Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("trial,status,accuracy,epochs,duration_s,attempts,worker,error,x,name,accuracy_epoch_1,accuracy_epoch_2,accuracy_epoch_3", lines[0]);
        Assert.Contains("failed", lines[2]);
        Assert.Contains("\"Exception: boom, \"\"quoted\"\"\"", lines[2]);
        var path = Path.Combine(Path.GetTempPath(), $"sweep-{Guid.NewGuid():N}", "t.csv");
        result.ToTable().SaveCsv(path);
        Assert.Equal(csv, File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temporary file left
        Assert.Equal(new[] { 0.3, 0.3, 0.3 }, result.ToTable().BestSoFar());
    }
}
