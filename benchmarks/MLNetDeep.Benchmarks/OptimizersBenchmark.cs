using System.Diagnostics;
using Microsoft.ML;
using MLNetDeep.Datasets;
using MLNetDeep.Optimizers;
using MLNetDeep.Schedules;
using MLNetDeep.Training;
using MLNetDeep.Models.Cnn;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// The reference CNN (CnnOptions' default body and head) on the first N Fashion-MNIST training images for E epochs,
/// batch 128, seed 1, once per optimizer (each at a usual rate for it) and for a few schedules; test accuracy on the
/// first T test images and training seconds. L-BFGS runs full-batch on the first min(N, 2000) images for 10·E
/// iterations (a full batch of the CNN over more rows needs several GB).
/// </summary>
public sealed class OptimizersBenchmark : IBenchmark
{
    public string Name => "optimizers";
    public string Description => "reference CNN with each optimizer and a few schedules: test accuracy and seconds [--train N --epochs E --test T --only a,b]";

    private const int Batch = 128, Seed = 1;

    public int Run(string[] args)
    {
        int trainRows = Report.Arg(args, "--train", 10000), epochs = Report.Arg(args, "--epochs", 2), testRows = Report.Arg(args, "--test", 10000);
        int i = Array.IndexOf(args, "--only");
        var only = i >= 0 && i + 1 < args.Length ? args[i + 1].Split(',').ToHashSet() : null;
        long stepsTotal = epochs * (long)Math.Ceiling(trainRows / (double)Batch);

        var runs = new List<(string Name, Optimizer Optimizer, LearningRateSchedule? Schedule)>
        {
            ("sgd", new Sgd { LearningRate = 0.05 }, null),
            ("momentum", new Sgd { LearningRate = 0.01, Momentum = 0.9 }, null),
            ("nesterov", new Sgd { LearningRate = 0.01, Momentum = 0.9, Nesterov = true }, null),
            ("adagrad", new Adagrad { LearningRate = 0.01 }, null),
            ("adadelta", new Adadelta { LearningRate = 1.0 }, null),
            ("rmsprop", new RmsProp { LearningRate = 0.001 }, null),
            ("adam", new Adam { LearningRate = 0.001 }, null),
            ("adamw", new AdamW { LearningRate = 0.001, DecoupledWeightDecay = 0.004 }, null),
            ("adamax", new Adamax { LearningRate = 0.002 }, null),
            ("nadam", new Nadam { LearningRate = 0.001 }, null),
            ("ftrl", new Ftrl { LearningRate = 0.05 }, null),
            ("adam_cosine", new Adam { LearningRate = 0.001 }, new CosineDecay { DecaySteps = stepsTotal }),
            ("adam_warmup_cosine", new Adam { LearningRate = 0.002 }, new LinearWarmup { WarmupSteps = Math.Max(1, stepsTotal / 10), Schedule = new CosineDecay { DecaySteps = stepsTotal - Math.Max(1, stepsTotal / 10) } }),
            ("adam_onecycle", new Adam { LearningRate = 0.003 }, new OneCycle { TotalSteps = Math.Max(stepsTotal, 10) }),
            ("momentum_exponential", new Sgd { LearningRate = 0.05, Momentum = 0.9 }, new ExponentialDecay { DecaySteps = Math.Max(1, stepsTotal / 4), DecayRate = 0.5, Staircase = true }),
        };

        var ml = new MLContext(seed: Seed);
        var train = FashionMnist.Load(ml, train: true, take: trainRows);
        var test = FashionMnist.Load(ml, train: false, take: testRows);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        var trainKeyed = ml.Data.Cache(keys.Transform(train));
        var testKeyed = ml.Data.Cache(keys.Transform(test));
        Console.WriteLine($"# reference CNN, {trainRows} train rows, {epochs} epochs ({stepsTotal} steps), batch {Batch}, {testRows} test rows, seed {Seed}");

        foreach (var (name, optimizer, schedule) in runs)
        {
            if (only is not null && !only.Contains(name)) continue;
            Console.WriteLine($"# {name}: {optimizer}{(schedule is null ? "" : $" + {schedule.GetType().Name}")}");
            Measure(ml, name, trainKeyed, testKeyed, epochs, Batch, optimizer, schedule);
        }

        if (only is null || only.Contains("lbfgs"))
        {
            int rows = Math.Min(trainRows, 2000);
            var small = ml.Data.Cache(keys.Transform(FashionMnist.Load(ml, train: true, take: rows)));
            Console.WriteLine($"# lbfgs: full batch of {rows} rows, {10 * epochs} iterations");
            Measure(ml, "lbfgs", small, testKeyed, 10 * epochs, TrainerOptions.FullBatch, new Lbfgs { LearningRate = 0.2, HistorySize = 20 }, null);
        }
        return 0;
    }

    private static void Measure(MLContext ml, string name, IDataView train, IDataView test, int epochs, int batch, Optimizer optimizer, LearningRateSchedule? schedule)
    {
        var sw = Stopwatch.StartNew();
        double accuracy;
        try
        {
            using var model = ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
            {
                ImageShape = new Models.Cnn.ImageShape(1, 28, 28),
                Epochs = epochs, BatchSize = batch, Seed = Seed,
                Optimizer = optimizer, LearningRateSchedule = schedule,
            }).Fit(train);
            double seconds = sw.Elapsed.TotalSeconds;
            accuracy = ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
            Report.Line($"optimizer_{name}_test_accuracy", accuracy, "F4");
            Report.Line($"optimizer_{name}_seconds", seconds, "F1");
        }
        catch (TrainingDivergedException e)
        {
            Console.WriteLine($"# {name} diverged: {e.Message.Split('.')[0]}");
            Report.Line($"optimizer_{name}_test_accuracy", double.NaN, "F4");
            Report.Line($"optimizer_{name}_seconds", sw.Elapsed.TotalSeconds, "F1");
        }
    }
}
