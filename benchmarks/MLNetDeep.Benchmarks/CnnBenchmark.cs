using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;
using TorchSharp;
using static TorchSharp.torch;
using MLNetDeep.Models.Cnn;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// The reference CNN (shared/notes/platform-facts.md) on Fashion-MNIST, batch 128, Adam 1e-3, same seed:
/// (a) through the ML.NET estimator from an IDataView, (b) as a raw TorchSharp loop over pre-built tensors.
/// The raw loop runs before and after the estimator; its mean is the reference (cancels slow drift in machine load).
/// </summary>
public sealed class CnnBenchmark : IBenchmark
{
    public string Name => "cnn";
    public string Description => "reference CNN: estimator vs raw TorchSharp loop (train and batched inference), test accuracy [--train N --epochs E --test N]";

    public int Run(string[] args) => RunAgainstRaw("cnn", "reference CNN", args, (ml, epochs, batch, seed, scoringBatch) =>
        ml.MulticlassClassification.Trainers.Cnn(new CnnOptions
        {
            ImageShape = new Models.Cnn.ImageShape(1, 28, 28),
            Epochs = epochs, BatchSize = batch, Seed = seed, ScoringBatchSize = scoringBatch,
            Optimizer = new Adam { LearningRate = 1e-3 },
        }));

    /// <summary>Builds the trainer of the reference CNN for (context, epochs, batch size, seed, scoring batch size).</summary>
    internal delegate IEstimator<DeepTransformer> TrainerFactory(MLContext ml, int epochs, int batch, int seed, int scoringBatch);

    /// <summary>
    /// The estimator built by <paramref name="trainer"/> (it must train the reference CNN) against the raw TorchSharp loop:
    /// training and batched-inference rows/s and their ratios, and test accuracy, in lines named <paramref name="prefix"/>_*.
    /// </summary>
    internal static int RunAgainstRaw(string prefix, string what, string[] args, TrainerFactory trainer)
    {
        int trainRows = Report.Arg(args, "--train", 60000), epochs = Report.Arg(args, "--epochs", 2), testRows = Report.Arg(args, "--test", 10000);
        const int batch = 128, seed = 1, scoringBatch = 256;
        var train = FashionMnist.Read(train: true, take: trainRows);
        var test = FashionMnist.Read(train: false, take: testRows);
        Console.WriteLine($"# {what}, {trainRows} train rows, {epochs} epochs, batch {batch}, Adam 1e-3, torch threads {torch.get_num_threads()}");

        // Warm-up: LibTorch sets up its kernels (and the allocator its heap) on first use; without this the first timed
        // raw run was up to 25% slower than the second.
        if (train.Count > 2048) RawTrain(train.Take(2048).ToList(), 1, batch, seed);
        double raw1 = RawTrain(train, epochs, batch, seed);
        var ml = new MLContext(seed: seed);
        var sw = Stopwatch.StartNew();
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(trainer(ml, epochs, batch, seed, scoringBatch))
            .Fit(ml.Data.LoadFromEnumerable(train));
        double mlnet = (double)trainRows * epochs / sw.Elapsed.TotalSeconds;
        double raw2 = RawTrain(train, epochs, batch, seed);

        var testView = model.Transform(ml.Data.LoadFromEnumerable(test));
        var accuracy = ml.MulticlassClassification.Evaluate(testView).MicroAccuracy;

        var cnn = model.LastTransformer;
        cnn.ScoringEngine = Inference.ScoringEngine.LibTorch; // against a raw TorchSharp loop: LibTorch both sides (the onnx benchmark has the ONNX Runtime engine)
        var keyed = model.First().Transform(ml.Data.LoadFromEnumerable(test));
        cnn.Transform(keyed).GetColumn<float[]>("Score").Count(); // warm-up
        double inferRaw1 = RawInfer(cnn, test, scoringBatch);
        sw.Restart();
        int scored = 0;
        for (int r = 0; r < 3; r++) scored += cnn.Transform(keyed).GetColumn<float[]>("Score").Count();
        double inferMlnet = scored / sw.Elapsed.TotalSeconds;
        double inferRaw = (inferRaw1 + RawInfer(cnn, test, scoringBatch)) / 2;

        Report.EstimatorVsRaw(prefix, mlnet, model.LastTransformer.History.Epochs.Average(e => e.SamplesPerSecond), raw1, raw2,
            inferMlnet, inferRaw, accuracy);
        return 0;
    }

    /// <summary>The same network written directly in TorchSharp.</summary>
    internal static TorchSharp.Modules.Sequential ReferenceCnn() => nn.Sequential(
        nn.Conv2d(1, 32, 3, padding: 1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding: 1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10));

    /// <summary>Raw training throughput (rows/s) over pre-built tensors.</summary>
    private static double RawTrain(List<FashionMnistImage> images, int epochs, int batch, int seed)
    {
        torch.random.manual_seed(seed);
        var (x, y) = RawLoop.Tensors(images, 1, 28, 28);
        using var net = ReferenceCnn();
        double rate = RawLoop.Train(net, x, y, epochs, batch);
        x.Dispose(); y.Dispose();
        return rate;
    }

    /// <summary>Raw batched inference throughput (rows/s) of the trained network over a pre-built tensor (softmax and copy-out included).</summary>
    private static double RawInfer(DeepTransformer model, List<FashionMnistImage> images, int batch)
    {
        var (x, y) = RawLoop.Tensors(images, 1, 28, 28);
        var net = model.Network;
        long n = x.shape[0];
        var output = new float[n * 10];
        var sw = Stopwatch.StartNew();
        for (int r = 0; r < 3; r++)
        {
            using var _ = no_grad();
            for (long s = 0; s < n; s += batch)
            {
                using var scope = NewDisposeScope();
                long len = Math.Min(batch, n - s);
                var probs = nn.functional.softmax(net.call(x.narrow(0, s, len)), 1).contiguous();
                probs.data<float>().CopyTo(output.AsSpan((int)(s * 10), (int)(len * 10)));
            }
        }
        double rate = 3.0 * n / sw.Elapsed.TotalSeconds;
        x.Dispose(); y.Dispose();
        return rate;
    }
}

internal static class ChainExtensions
{
    /// <summary>The first transformer of a fitted chain.</summary>
    public static ITransformer First(this Microsoft.ML.Data.TransformerChain<DeepTransformer> chain) => ((IEnumerable<ITransformer>)chain).First();
}
