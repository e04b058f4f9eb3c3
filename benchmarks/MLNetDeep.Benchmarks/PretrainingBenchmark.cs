using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNetDeep.Activations;
using MLNetDeep.Datasets;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Pretraining;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// Does layer-wise pretraining help when labels are few? L labeled Fashion-MNIST images (the first L of the training
/// split) plus U unlabeled ones (the next U, labels dropped), a 256-128-64 MLP with sigmoid (Glorot init) or ReLU (He
/// init) units, Adam 1e-3, batch 64, E supervised epochs; no pretraining, denoising autoencoders (PretrainingOptions'
/// defaults) or stacked RBMs (RbmOptions' defaults: CD-1, lr 0.1, momentum 0.5 → 0.9, weight decay 2e-4), P epochs per
/// layer; several seeds. Prints the test accuracy of every run, the mean and sample standard deviation over seeds, and
/// a Markdown table.
/// </summary>
public sealed class PretrainingBenchmark : IBenchmark
{
    public string Name => "pretraining";
    public string Description => "few labels + many unlabeled rows: MLP test accuracy without / with autoencoder / RBM pretraining, sigmoid and ReLU, several seeds [--labeled L --unlabeled U --test T --epochs E --layer-epochs P --seeds S --only sigmoid,relu --kinds none,autoencoder,rbm]";

    public int Run(string[] args)
    {
        int labeled = Report.Arg(args, "--labeled", 1000), unlabeled = Report.Arg(args, "--unlabeled", 20000), testRows = Report.Arg(args, "--test", 5000);
        int epochs = Report.Arg(args, "--epochs", 15), layerEpochs = Report.Arg(args, "--layer-epochs", 5), seeds = Report.Arg(args, "--seeds", 3);
        var activations = List(args, "--only", "sigmoid,relu");
        var kinds = List(args, "--kinds", "none,autoencoder,rbm");

        var ml = new MLContext(seed: 1);
        var all = FashionMnist.Read(train: true, take: labeled + unlabeled);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(all.Take(labeled)));
        var train = ml.Data.Cache(keys.Transform(ml.Data.LoadFromEnumerable(all.Take(labeled).ToList())));
        var test = ml.Data.Cache(keys.Transform(FashionMnist.Load(ml, train: false, take: testRows)));
        IDataView? extra = unlabeled > 0
            ? ml.Data.Cache(ml.Transforms.DropColumns("Label").Fit(train).Transform(ml.Data.LoadFromEnumerable(all.Skip(labeled).ToList())))
            : null;
        Console.WriteLine($"# {labeled} labeled + {unlabeled} unlabeled Fashion-MNIST images, MLP 256-128-64, Adam 1e-3, batch 64, {epochs} epochs, " +
                          $"{layerEpochs} pretraining epochs per layer, seeds 1..{seeds}, accuracy on {testRows} test images");

        var table = new List<string>();
        foreach (var activation in activations)
            foreach (var kind in kinds)
            {
                var accuracies = new List<double>();
                var seconds = new List<double>();
                for (int seed = 1; seed <= seeds; seed++)
                {
                    var options = new CnnOptions
                    {
                        ImageShape = new ImageShape(1, 28, 28),
                        Layers = new(),
                        Head = new DenseHead
                        {
                            HiddenSizes = new() { 256, 128, 64 },
                            Activation = activation == "relu" ? new Relu() : new Sigmoid(),
                            Dropout = 0,
                            InputDropout = 0,
                        },
                        Epochs = epochs,
                        BatchSize = 64,
                        Seed = seed,
                        Pretraining = kind switch
                        {
                            "none" => null,
                            "autoencoder" => new PretrainingOptions { UnlabeledData = extra, EpochsPerLayer = layerEpochs },
                            "rbm" => new PretrainingOptions { UnlabeledData = extra, EpochsPerLayer = layerEpochs, Rbm = new RbmOptions() },
                            _ => throw new ArgumentException($"--kinds takes none, autoencoder, rbm. Received: {kind}"),
                        },
                    };
                    var sw = Stopwatch.StartNew();
                    using var model = ml.MulticlassClassification.Trainers.Cnn(options).Fit(train);
                    seconds.Add(sw.Elapsed.TotalSeconds);
                    double accuracy = ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
                    accuracies.Add(accuracy);
                    Report.Line($"pretraining_{activation}_{kind}_seed{seed}_test_accuracy", accuracy, "F4");
                }
                double mean = accuracies.Average();
                double sd = accuracies.Count > 1 ? Math.Sqrt(accuracies.Sum(a => (a - mean) * (a - mean)) / (accuracies.Count - 1)) : 0;
                Report.Line($"pretraining_{activation}_{kind}_test_accuracy_mean", mean, "F4");
                Report.Line($"pretraining_{activation}_{kind}_test_accuracy_sd", sd, "F4");
                Report.Line($"pretraining_{activation}_{kind}_seconds_mean", seconds.Average(), "F1");
                table.Add(string.Create(CultureInfo.InvariantCulture,
                    $"| {activation} | {kind} | {mean:F4} ± {sd:F4} | {accuracies.Min():F4} – {accuracies.Max():F4} | {string.Join(" ", accuracies.Select(a => a.ToString("F4", CultureInfo.InvariantCulture)))} |"));
            }
        Console.WriteLine();
        Console.WriteLine("| network | pretraining | test accuracy (mean ± sd) | min – max | per seed |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        foreach (var row in table) Console.WriteLine(row);
        return 0;
    }

    private static List<string> List(string[] args, string key, string def)
    {
        int i = Array.IndexOf(args, key);
        return (i >= 0 && i + 1 < args.Length ? args[i + 1] : def).Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
    }
}
