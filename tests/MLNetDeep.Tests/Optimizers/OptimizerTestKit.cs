using Xunit;
using System.Diagnostics;
using Microsoft.ML;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using MLNetDeep.Schedules;
using MLNetDeep.Tests.Support;
using TorchSharp.Modules;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Optimizers;

/// <summary>
/// A tiny separable quadratic, L(w) = ½·Σ aᵢ(wᵢ − tᵢ)², so gᵢ = aᵢ(wᵢ − tᵢ): small enough to follow every
/// optimizer's arithmetic by hand, with curvatures that differ by 16× so per-coordinate scaling shows.
/// </summary>
internal static class TinyProblem
{
    public static readonly double[] Curvature = { 1.0, 4.0, 0.25 };
    public static readonly double[] Target = { 0.5, -1.0, 2.0 };
    public static readonly double[] Start = { 1.5, 0.5, -1.0 };

    /// <summary>∇L at w.</summary>
    public static double[] Gradient(double[] w) => w.Select((x, i) => Curvature[i] * (x - Target[i])).ToArray();

    /// <summary>
    /// Runs the optimizer's real updater (float64) for <paramref name="steps"/> steps from <see cref="Start"/>, the gradient
    /// coming from autograd; <paramref name="rate"/> (if given) sets the rate before each step. Returns w after each step.
    /// </summary>
    public static List<double[]> Run(Optimizer optimizer, int steps, Func<int, double>? rate = null, double[]? start = null)
    {
        using var scope = NewDisposeScope();
        var w = new Parameter(tensor(start ?? Start, dtype: ScalarType.Float64));
        var a = tensor(Curvature, dtype: ScalarType.Float64);
        var t = tensor(Target, dtype: ScalarType.Float64);
        using var updater = optimizer.CreateUpdater(new[] { new ParameterGroup("all", new[] { w }) });
        var path = new List<double[]>();
        for (int s = 0; s < steps; s++)
        {
            if (rate is not null) updater.SetLearningRate(rate(s));
            updater.ZeroGrad();
            var loss = (a * (w - t).square()).sum() * 0.5;
            loss.backward();
            updater.Step();
            path.Add(w.detach().data<double>().ToArray());
        }
        return path;
    }

    /// <summary>Asserts two parameter paths agree to <paramref name="tolerance"/> (absolute), step by step.</summary>
    public static void AssertSamePath(IReadOnlyList<double[]> expected, IReadOnlyList<double[]> actual, double tolerance = 1e-12)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int s = 0; s < expected.Count; s++)
            for (int i = 0; i < expected[s].Length; i++)
                Assert.True(Math.Abs(expected[s][i] - actual[s][i]) <= tolerance,
                    $"step {s + 1}, w[{i}]: expected {expected[s][i]:R}, got {actual[s][i]:R} (|diff| {Math.Abs(expected[s][i] - actual[s][i]):G3})");
    }
}

/// <summary>Trains real models on a Fashion-MNIST subset so each optimizer shows it actually learns (kept small: 2 cores).</summary>
internal static class RealTraining
{
    public const int TrainRows = 2000, TestRows = 1000;

    /// <summary>A small CNN (conv 8 → conv 16 → dense 64) for <paramref name="epochs"/> epochs; returns test accuracy.</summary>
    public static double Cnn(Optimizer optimizer, ITestOutputHelper? log = null, int epochs = 2, int batchSize = 32, LearningRateSchedule? schedule = null) =>
        Train(optimizer, log, epochs, batchSize, schedule, new List<CnnLayer> { new ConvBlock(8, 3, PoolingKind.Max), new ConvBlock(16, 3, PoolingKind.Max) },
            new DenseHead { HiddenSizes = new() { 64 }, InputDropout = 0, Dropout = 0.25 });

    /// <summary>A multilayer perceptron 784 → 128 (ReLU) → 10: cheap enough to train once per optimizer.</summary>
    public static double Mlp(Optimizer optimizer, ITestOutputHelper? log = null, int epochs = 2, int batchSize = 32, LearningRateSchedule? schedule = null) =>
        Train(optimizer, log, epochs, batchSize, schedule, new List<CnnLayer>(), new DenseHead { HiddenSizes = new() { 128 }, InputDropout = 0, Dropout = 0 });

    /// <summary>Softmax regression (no hidden layer): the shallow model FTRL and L-BFGS are made for.</summary>
    public static double Linear(Optimizer optimizer, ITestOutputHelper? log = null, int epochs = 2, int batchSize = 32) =>
        Train(optimizer, log, epochs, batchSize, null, new List<CnnLayer>(), new DenseHead { HiddenSizes = new(), InputDropout = 0, Dropout = 0 });

    private static double Train(Optimizer optimizer, ITestOutputHelper? log, int epochs, int batchSize, LearningRateSchedule? schedule,
        List<CnnLayer> layers, DenseHead head)
    {
        var sw = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var ml = new MLContext(seed: 1);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label");
        var train = TestData.TrainView(ml, TrainRows);
        var map = keys.Fit(train);
        var trainer = ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
        {
            ImageShape = new ImageShape(1, 28, 28),
            Layers = layers,
            Head = head,
            Epochs = epochs,
            BatchSize = batchSize,
            Optimizer = optimizer,
            LearningRateSchedule = schedule,
            Seed = 1,
        });
        using var model = trainer.Fit(map.Transform(train));
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(map.Transform(TestData.TestView(ml, TestRows))));
        log?.WriteLine($"{optimizer}: test accuracy {metrics.MicroAccuracy:F4}, last train loss {model.History.Epochs[^1].TrainLoss:F5} after {epochs} epochs on {TrainRows} images ({sw.Elapsed.TotalSeconds:F1}s wall, {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:F1}s CPU)");
        return metrics.MicroAccuracy;
    }
}
