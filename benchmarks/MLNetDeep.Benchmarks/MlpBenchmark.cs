using System.Diagnostics;
using Microsoft.ML;
using MLNetDeep.Datasets;
using MLNetDeep.Models.Dense;
using MLNetDeep.Optimizers;
using MLNetDeep.Training;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// The MLP against ML.NET's own trainers on a real table: LetterRecognition (mlbench, Debian's r-cran-mlbench; 16,000 training
/// rows and 4,000 test rows as its documentation splits them, 16 integer features, 26 letters). Every trainer gets the same
/// featurisation (Concatenate → NormalizeMeanVariance, cached) and the same split: the MLP (256-256 ReLU, batch norm, dropout
/// 0.1, Adam with a cosine schedule), LightGBM, FastTree (one-vs-all) and SDCA maximum entropy, each with its defaults unless
/// stated. Prints `mlp_letter_accuracy` and every trainer's accuracy and training seconds, and a Markdown table.
/// </summary>
public sealed class MlpBenchmark : IBenchmark
{
    public string Name => "mlp";
    public string Description => "tabular: MLP vs LightGBM, FastTree, SDCA on LetterRecognition (accuracy, seconds) [--epochs E --train N]";

    public int Run(string[] args)
    {
        int epochs = Report.Arg(args, "--epochs", 40), trainRows = Report.Arg(args, "--train", Mlbench.LetterTrainingRows);
        var ml = new MLContext(seed: 1);
        var trainRaw = ml.Data.TakeRows(Mlbench.LetterRecognition(ml, train: true), trainRows);
        var prep = ml.Transforms.Concatenate("Features", Mlbench.LetterFeatures.ToArray())
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label", Mlbench.LetterLabel))
            .Fit(trainRaw);
        var train = ml.Data.Cache(prep.Transform(trainRaw));
        var test = ml.Data.Cache(prep.Transform(Mlbench.LetterRecognition(ml, train: false)));
        Console.WriteLine($"# LetterRecognition: {trainRows} training rows, 4000 test rows, 16 features, 26 classes; MLP {epochs} epochs");

        var mlpOptions = new MlpOptions
        {
            HiddenSizes = new() { 256, 256 }, BatchNorm = true, Dropout = 0.1, Epochs = epochs, BatchSize = 128, Seed = 1,
            Optimizer = new Adam { LearningRate = 3e-3 }, LearningRateSchedule = new Schedules.CosineDecay { DecaySteps = (long)epochs * ((trainRows + 127) / 128) },
        };
        var rows = new List<(string Name, double Accuracy, double Seconds)>();
        void Measure(string name, IEstimator<ITransformer> trainer)
        {
            var sw = Stopwatch.StartNew();
            var model = trainer.Fit(train);
            double seconds = sw.Elapsed.TotalSeconds;
            double accuracy = ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
            rows.Add((name, accuracy, seconds));
            Report.Line($"{name}_letter_accuracy", accuracy, "F4");
            Report.Line($"{name}_letter_train_seconds", seconds, "F1");
            (model as IDisposable)?.Dispose();
        }
        Measure("mlp", ml.MulticlassClassification.Trainers.Mlp(mlpOptions));
        Measure("lightgbm", ml.MulticlassClassification.Trainers.LightGbm());
        Measure("fasttree", ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree()));
        Measure("sdca", ml.MulticlassClassification.Trainers.SdcaMaximumEntropy());

        Console.WriteLine();
        Console.WriteLine("| trainer | test accuracy | training seconds |");
        Console.WriteLine("| --- | --- | --- |");
        foreach (var (name, accuracy, seconds) in rows)
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"| {name} | {accuracy:F4} | {seconds:F1} |"));
        return 0;
    }
}
