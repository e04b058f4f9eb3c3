// Hyperparameter sweeps of MLNetDeep's CNN on Fashion-MNIST.
//   dotnet run -c Release --project samples/Sweep -- default  [--train 3000] [--epochs 3] [--trials 12] [--db sweep.db] [--out sweep-out]
//       the one-line default sweep (default space, TPE, ASHA), resumable from the SQLite file; CSV + PNG plots
//   dotnet run -c Release --project samples/Sweep -- custom   [--train 3000] [--epochs 3] [--trials 12]
//       a custom space: the default one with fluent overrides, and a parameter class of your own
//   dotnet run -c Release --project samples/Sweep -- postgres --pg "Host=127.0.0.1;Username=postgres;Database=postgres" [--workers 2]
//       two worker processes run one sweep together through PostgreSQL (this program started again as 'worker')
//   dotnet run -c Release --project samples/Sweep -- worker --storage sqlite:PATH|postgres:CONNSTR [--sweep NAME] [--trials N]
//       [--objective cnn|synthetic] [--epochs E] [--epoch-ms MS] [--train N]: one worker (also what the tests start and kill)
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using MLNetDeep.Sweeps;

string mode = args.Length > 0 ? args[0] : "default";
var ml = new MLContext(seed: 1);
ml.Log += (_, e) =>
{
    if (e.Source.StartsWith("MLNetDeep.Sweep") && e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info)
        Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {e.RawMessage}");
};

switch (mode)
{
    case "default": return DefaultSweep();
    case "custom": return CustomSweep();
    case "postgres": return PostgresDemo();
    case "worker": return Worker();
    default:
        Console.Error.WriteLine($"Unknown mode '{mode}'. Use default, custom, postgres or worker (see the top of samples/Sweep/Program.cs).");
        return 2;
}

int DefaultSweep()
{
    IDataView data = FashionMnist.Load(ml, train: true, take: Arg("--train", 3000));
    string outDir = ArgS("--out", "sweep-out");
    using var storage = new SqliteSweepStorage(ArgS("--db", Path.Combine(outDir, "sweep.db")));

    // the one line: default space, TPE, early stopping, resumable
    var result = CnnSweep.Multiclass(ml, data, new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = Arg("--epochs", 3) },
        new SweepOptions { MaxTrials = Arg("--trials", 12), Scheduler = new AshaScheduler(), Storage = storage, SweepName = "fashion-default" });

    Report(result, outDir, CnnSweep.DefaultSpace());
    return 0;
}

int CustomSweep()
{
    IDataView data = FashionMnist.Load(ml, train: true, take: Arg("--train", 3000));
    var split = SweepData.Split(ml, data, validationFraction: 0.2, preprocessing: ml.Transforms.Conversion.MapValueToKey("Label"));

    // 1. the default space with overrides in code
    var space = CnnSweep.DefaultSpace()
        .Range(p => p.LearningRate, 1e-4, 3e-2, logScale: true)
        .Choice(p => p.Optimizer, "adam", "momentum", "nesterov")
        .Choice(p => p.Head.HiddenSize, 128, 256)
        .Fix(p => p.ConvBlocks);
    var template = new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = Arg("--epochs", 3) };
    var result = CnnSweep.Multiclass(ml, split, template, new SweepOptions { MaxTrials = Arg("--trials", 12), Tuner = new RandomTuner { Seed = 7 } }, space);
    Report(result, "sweep-out-custom", space);

    // 2. a parameter class of your own, trained through any estimator
    var mine = new SearchSpace<MyParams>();
    var objective = new TrainerObjective<MyParams>(ml, mine, split, SweepMetric.LogLoss, (p, setup) =>
    {
        var o = new CnnOptions
        {
            ImageShape = new ImageShape(1, 28, 28),
            Epochs = Arg("--epochs", 3),
            BatchSize = p.BatchSize,
            Optimizer = new Adam { LearningRate = p.LearningRate, Beta1 = p.Beta1 },
            Flatten = p.GlobalPool ? FlattenMode.GlobalAveragePool : FlattenMode.Flatten,
            ValidationData = setup.ValidationData,
        };
        o.Callbacks.Add(setup.Callback);
        return ml.MulticlassClassification.Trainers.Cnn(o);
    });
    var r2 = Sweeper.Run(mine, objective, new SweepOptions { MaxTrials = 6, MetricName = "log-loss", Direction = OptimizationDirection.Minimize }, ml);
    Console.WriteLine($"own parameter class: best log-loss {r2.BestTrial?.Value:F4} with {r2.BestParameters}");
    return 0;
}

int PostgresDemo()
{
    string pg = ArgS("--pg", "Host=127.0.0.1;Username=postgres;Database=postgres");
    int workers = Arg("--workers", 2);
    string sweep = ArgS("--sweep", $"pg-demo-{DateTime.UtcNow:yyyyMMddHHmmss}");
    string self = Environment.ProcessPath!;
    string dll = typeof(MyParams).Assembly.Location;
    var procs = Enumerable.Range(0, workers).Select(i =>
    {
        var psi = new ProcessStartInfo(self);   // the apphost, or dotnet + this dll
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(dll);
        foreach (var a in new[] { "worker", "--storage", "postgres:" + pg, "--sweep", sweep, "--trials", Arg("--trials", 8).ToString(CultureInfo.InvariantCulture),
                     "--objective", ArgS("--objective", "cnn"), "--epochs", Arg("--epochs", 2).ToString(CultureInfo.InvariantCulture), "--train", Arg("--train", 2000).ToString(CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }).ToList();
    foreach (var p in procs) p.WaitForExit();
    using var storage = new PostgresSweepStorage(pg);
    var trials = storage.LoadTrials(sweep);
    foreach (var g in trials.GroupBy(t => t.Worker)) Console.WriteLine($"worker {g.Key}: trials {string.Join(", ", g.Select(t => t.Number))}");
    var best = Sweeper.BestOf(trials, OptimizationDirection.Maximize);
    Console.WriteLine($"{trials.Count} trials, best value {best?.Value:F4}: {best?.Parameters}");
    return procs.All(p => p.ExitCode == 0) ? 0 : 1;
}

int Worker()
{
    string storageArg = ArgS("--storage", "sqlite:sweep.db");
    ISweepStorage storage = storageArg.StartsWith("postgres:") ? new PostgresSweepStorage(storageArg["postgres:".Length..])
        : storageArg.StartsWith("sqlite:") ? new SqliteSweepStorage(storageArg["sqlite:".Length..])
        : throw new ArgumentException($"--storage must be sqlite:PATH or postgres:CONNECTION-STRING. Received: {storageArg}");
    using var _ = storage;
    string sweep = ArgS("--sweep", "worker-sweep");
    int trials = Arg("--trials", 8), epochs = Arg("--epochs", 3), epochMs = Arg("--epoch-ms", 0);
    var options = new SweepOptions { SweepName = sweep, MaxTrials = trials, Storage = storage, Tuner = new TpeTuner { Seed = 1, StartupTrials = 4 } };
    if (ArgS("--objective", "cnn") == "synthetic")
    {
        // a cheap objective with learning curves (used by the tests): maximise, optimum at lr = 10^-2.5, width 64
        var space = new SearchSpace().Add("lr", SearchDimension.Float(1e-4, 1e-1, logScale: true)).Add("width", SearchDimension.Choice(32, 64, 128));
        options.MetricName = "score";
        var result = Sweeper.Run(space, new FunctionObjective(c =>
        {
            c.MaxEpochs = epochs;
            double q = 0.9 - 0.08 * Math.Pow(Math.Log10(c.Parameters.Get<double>("lr")) + 2.5, 2) + (c.Parameters.Get<int>("width") == 64 ? 0.02 : 0), v = 0;
            for (int e = 1; e <= epochs; e++)
            {
                if (epochMs > 0) Thread.Sleep(epochMs);
                v = q * (1 - 0.6 * Math.Exp(-e / 2.0));
                if (c.Report(e, v)) break;
            }
            return v;
        }), options, ml);
        Console.WriteLine($"worker done: ran {result.TrialsRunHere} trial(s), {result.EndReason}");
        return 0;
    }
    IDataView data = FashionMnist.Load(ml, train: true, take: Arg("--train", 2000));
    var r = CnnSweep.Multiclass(ml, data, new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = epochs }, options);
    Console.WriteLine($"worker done: ran {r.TrialsRunHere} trial(s), {r.EndReason}; best so far {r.BestTrial?.Value:F4}");
    return 0;
}

void Report(SweepResult result, string outDir, SearchSpace space)
{
    Console.WriteLine($"{result.Trials.Count} trials: {result.Completed} completed, {result.Pruned} stopped early, {result.Failed} failed ({result.EndReason})");
    Console.WriteLine($"best {result.MetricName}: {result.BestTrial?.Value:F4} (trial {result.BestTrial?.Number}) with {result.BestParameters}");
    if (result.BestOptions is CnnOptions o)
        Console.WriteLine($"best options: {o.Optimizer}, batch {o.BatchSize}, L2 {o.Regularization.L2:G3}, layers {string.Join("/", o.Layers!.Select(l => l.Filters))}, head {string.Join("/", o.Head.HiddenSizes)} dropout {o.Head.Dropout:F2}");
    var table = result.ToTable();
    table.SaveCsv(Path.Combine(outDir, "trials.csv"));
    var plots = SweepPlots.SaveAll(table, outDir, space);
    Console.WriteLine($"results: {Path.GetFullPath(Path.Combine(outDir, "trials.csv"))} and {plots.Count} plots in {Path.GetFullPath(outDir)}");
}

int Arg(string name, int def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : def; }
string ArgS(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }

/// <summary>A parameter class of your own: attributes declare the space.</summary>
internal sealed class MyParams
{
    [Range(1e-4, 1e-2, logBase: true)] public double LearningRate { get; set; } = 1e-3;
    [Range(0.8, 0.95)] public double Beta1 { get; set; } = 0.9;
    [Choice(32, 64, 128)] public int BatchSize { get; set; } = 64;
    [Choice(false, true)] public bool GlobalPool { get; set; }
}
