using System.Diagnostics;
using Microsoft.ML;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Sweeps;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// A fixed-budget sweep of the CNN on a Fashion-MNIST subset (default space, TPE, ASHA) against the trainer's defaults,
/// both scored on the same test images.
///   dotnet run -c Release --project benchmarks/MLNetDeep.Benchmarks -- sweep [--train 3000] [--test 2000] [--trials 12] [--epochs 3] [--seed 1]
///       [--small-space 1] [--compare-full 1]
/// --small-space 1 narrows the default space to small bodies (8/16 first filters, 1–2 blocks) for slow machines.
/// --compare-full 1 also runs ASHA and full-budget sweeps of the same random trials and prints how many epochs ASHA saved
/// and how close its best validation accuracy came to the full runs' best.
/// </summary>
public sealed class SweepBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "sweep";
    /// <inheritdoc />
    public string Description => "CNN sweep (default space, TPE + ASHA) vs the trainer's defaults on a Fashion-MNIST subset";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        int trainRows = Report.Arg(args, "--train", 3000), testRows = Report.Arg(args, "--test", 2000);
        int trials = Report.Arg(args, "--trials", 12), epochs = Report.Arg(args, "--epochs", 3), seed = Report.Arg(args, "--seed", 1);
        var ml = new MLContext(seed: seed);
        ml.Log += (_, e) =>
        {
            if (e.Source.StartsWith("MLNetDeep.Sweep") && e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info) Console.Error.WriteLine(e.RawMessage);
        };
        var data = FashionMnist.Load(ml, train: true, take: trainRows);
        var test = FashionMnist.Load(ml, train: false, take: testRows);
        var split = SweepData.Split(ml, data, 0.2, ml.Transforms.Conversion.MapValueToKey("Label"), seed);
        var space = CnnSweep.DefaultSpace();
        if (Report.Arg(args, "--small-space", 0) == 1) space.Choice(p => p.Filters, 8, 16).Range(p => p.ConvBlocks, 1, 2);

        var sw = Stopwatch.StartNew();
        var defaults = new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = epochs };
        var defaultModel = split.Preprocessing!.Append(ml.MulticlassClassification.Trainers.Cnn(defaults).Fit(split.Train));
        double defaultAcc = ml.MulticlassClassification.Evaluate(defaultModel.Transform(test)).MicroAccuracy;
        double defaultSeconds = sw.Elapsed.TotalSeconds;

        sw.Restart();
        var result = CnnSweep.Multiclass(ml, split, new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = epochs },
            new SweepOptions { MaxTrials = trials, Tuner = new TpeTuner { Seed = seed, StartupTrials = Math.Max(2, trials / 3) }, Scheduler = new AshaScheduler() }, space);
        double sweepSeconds = sw.Elapsed.TotalSeconds;
        double bestAcc = result.BestModel is ITransformer best ? ml.MulticlassClassification.Evaluate(best.Transform(test)).MicroAccuracy : double.NaN;

        Console.WriteLine($"# Fashion-MNIST: {trainRows} rows (80% train / 20% validation), {testRows} test rows, {epochs} epochs per full trial");
        Console.WriteLine($"# best trial {result.BestTrial?.Number}: {result.BestParameters}");
        Report.Line("sweep_default_accuracy", defaultAcc, "F4");
        Report.Line("sweep_best_accuracy", bestAcc, "F4");
        Report.Line("sweep_best_validation_accuracy", result.BestTrial?.Value ?? double.NaN, "F4");
        Report.Line("sweep_trials", result.Trials.Count, "F0");
        Report.Line("sweep_trials_stopped_early", result.Pruned, "F0");
        Report.Line("sweep_trials_failed", result.Failed, "F0");
        Report.Line("sweep_epochs_run", result.Trials.Sum(t => t.Intermediate.Count), "F0");
        Report.Line("sweep_epochs_without_early_stopping", result.Trials.Count * epochs, "F0");
        Report.Line("sweep_seconds", sweepSeconds, "F1");
        Report.Line("sweep_default_seconds", defaultSeconds, "F1");

        if (Report.Arg(args, "--compare-full", 0) == 1)
        {
            // the same random trials with and without ASHA
            var template = new CnnOptions { ImageShape = new ImageShape(1, 28, 28), Epochs = epochs };
            sw.Restart();
            var asha = CnnSweep.Multiclass(ml, split, template, new SweepOptions { MaxTrials = trials, Tuner = new RandomTuner { Seed = seed }, Scheduler = new AshaScheduler() }, space);
            double ashaSeconds = sw.Elapsed.TotalSeconds;
            sw.Restart();
            var full = CnnSweep.Multiclass(ml, split, template, new SweepOptions { MaxTrials = trials, Tuner = new RandomTuner { Seed = seed } }, space);
            double fullSeconds = sw.Elapsed.TotalSeconds;
            Sweeper.DisposeBest(asha); Sweeper.DisposeBest(full);
            Report.Line("asha_trials_stopped_early", asha.Pruned, "F0");
            Report.Line("asha_epochs_run", asha.Trials.Sum(t => t.Intermediate.Count), "F0");
            Report.Line("full_epochs_run", full.Trials.Sum(t => t.Intermediate.Count), "F0");
            Report.Line("asha_best_validation_accuracy", asha.BestTrial?.Value ?? double.NaN, "F4");
            Report.Line("full_best_validation_accuracy", full.BestTrial?.Value ?? double.NaN, "F4");
            Report.Line("asha_seconds", ashaSeconds, "F1");
            Report.Line("full_seconds", fullSeconds, "F1");
        }
        return double.IsNaN(bestAcc) ? 1 : 0;
    }
}
