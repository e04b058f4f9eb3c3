using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetDeep.Datasets;
using MLNetDeep.Models;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using MLNetDeep.Scoring;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// A 2-layer LSTM (hidden 128, last state → Dense 10) on row-sequential Fashion-MNIST (each image = 28 steps of 28
/// pixels), batch 128, Adam 1e-3, gradient clipping at global norm 1 (the sequence trainers' default), same seed:
/// (a) through the ML.NET estimator from an IDataView, (b) as a raw TorchSharp loop over pre-built tensors. The raw
/// loop runs before and after the estimator; its mean is the reference (cancels slow drift in machine load).
/// <c>--raw 0</c> skips the raw loops and the inference comparison: an accuracy run, e.g. <c>--epochs 15 --raw 0</c>.
/// </summary>
public sealed class RnnBenchmark : IBenchmark
{
    public string Name => "rnn";
    public string Description => "2-layer LSTM-128 on row-sequential Fashion-MNIST: estimator vs raw TorchSharp loop (train and batched inference), test accuracy [--train N --epochs E --test N]";

    private const int Steps = 28, Features = 28, Hidden = 128, Layers = 2, Classes = 10;

    public int Run(string[] args)
    {
        int trainRows = Report.Arg(args, "--train", 60000), epochs = Report.Arg(args, "--epochs", 2), testRows = Report.Arg(args, "--test", 10000);
        bool compare = Report.Arg(args, "--raw", 1) != 0; // --raw 0: estimator only (an accuracy run with many epochs)
        bool cosine = Report.Arg(args, "--cosine", 0) != 0; // --cosine 1: learning rate decays to 0 along a cosine over all steps
        const int batch = 128, seed = 1, scoringBatch = 256;
        const double clip = 1.0;
        var train = FashionMnist.Read(train: true, take: trainRows);
        var test = FashionMnist.Read(train: false, take: testRows);
        Console.WriteLine($"# 2-layer LSTM-{Hidden}, row-sequential Fashion-MNIST, {trainRows} train rows, {epochs} epochs, batch {batch}, " +
                          $"Adam 1e-3{(cosine ? " with cosine decay" : "")}, clip {clip}, torch threads {torch.get_num_threads()}");

        // Warm-up: LibTorch sets up its kernels (and the allocator its heap) on first use; without this the first timed
        // raw run was up to 25% slower than the second.
        if (train.Count > 2048) RawTrain(train.Take(2048).ToList(), 1, batch, seed, clip);
        double raw1 = compare ? RawTrain(train, epochs, batch, seed, clip) : double.NaN;
        var ml = new MLContext(seed: seed);
        var sw = Stopwatch.StartNew();
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Sequence(new SequenceOptions
            {
                Input = new NumericSequence(Features),
                Cell = RecurrentCell.Lstm, HiddenSize = Hidden, Layers = Layers,
                Regularization = new() { GradientClipNorm = clip },
                Epochs = epochs, BatchSize = batch, Seed = seed, ScoringBatchSize = scoringBatch,
                Optimizer = new Adam { LearningRate = 1e-3 },
                LearningRateSchedule = cosine ? new MLNetDeep.Schedules.CosineDecay { DecaySteps = (long)Math.Ceiling(trainRows / (double)batch) * epochs } : null,
            }))
            .Fit(ml.Data.LoadFromEnumerable(train));
        double mlnet = (double)trainRows * epochs / sw.Elapsed.TotalSeconds;
        double raw2 = compare ? RawTrain(train, epochs, batch, seed, clip) : double.NaN;

        var testView = model.Transform(ml.Data.LoadFromEnumerable(test));
        var accuracy = ml.MulticlassClassification.Evaluate(testView).MicroAccuracy;
        if (!compare)
        {
            Report.Line("rnn_train_samples_per_s_mlnet", mlnet, "F0");
            Report.Line("rnn_test_accuracy", accuracy, "F4");
            return 0;
        }

        // Inference: estimator and raw passes alternate, and each path's median pass counts, so a burst of load on a
        // shared machine hits both paths alike instead of deciding the ratio.
        var lstm = model.LastTransformer;
        lstm.ScoringEngine = Inference.ScoringEngine.LibTorch; // against a raw TorchSharp loop: LibTorch both sides
        var keyed = ((IEnumerable<ITransformer>)model).First().Transform(ml.Data.LoadFromEnumerable(test));
        lstm.Transform(keyed).GetColumn<float[]>("Score").Count(); // warm-up
        var (x, _) = RawLoop.Tensors(test, Steps, Features);
        var estimatorRates = new List<double>();
        var rawRates = new List<double>();
        for (int round = 0; round < 5; round++)
        {
            sw.Restart();
            int scored = lstm.Transform(keyed).GetColumn<float[]>("Score").Count();
            estimatorRates.Add(scored / sw.Elapsed.TotalSeconds);
            rawRates.Add(RawInfer(lstm, x, scoringBatch));
        }
        x.Dispose();
        double inferMlnet = Median(estimatorRates), inferRaw = Median(rawRates);

        Report.EstimatorVsRaw("rnn", mlnet, model.LastTransformer.History.Epochs.Average(e => e.SamplesPerSecond), raw1, raw2,
            inferMlnet, inferRaw, accuracy);
        return 0;
    }

    /// <summary>The same network written directly in TorchSharp: LSTM(28 → 128, 2 layers, batch first) → last state → Linear(128 → 10).</summary>
    private sealed class RawLstm : nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.LSTM lstm;
        private readonly TorchSharp.Modules.Linear output;

        public RawLstm() : base("raw_lstm")
        {
            lstm = nn.LSTM(Features, Hidden, Layers, batchFirst: true);
            output = nn.Linear(Hidden, Classes);
            RegisterComponents();
        }

        // x: [B, 28, 28] → [B, 10]
        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var (_, h, _) = lstm.call(x);          // h: [layers, B, H]
            return output.call(h[Layers - 1]).MoveToOuterDisposeScope();
        }
    }

    /// <summary>Raw training throughput (rows/s) over pre-built tensors.</summary>
    private static double RawTrain(List<FashionMnistImage> images, int epochs, int batch, int seed, double clip)
    {
        torch.random.manual_seed(seed);
        var (x, y) = RawLoop.Tensors(images, Steps, Features);
        using var net = new RawLstm();
        double rate = RawLoop.Train(net, x, y, epochs, batch, clip);
        x.Dispose(); y.Dispose();
        return rate;
    }

    /// <summary>Raw batched inference throughput (rows/s) of the trained network over a pre-built tensor, one pass (softmax and copy-out included).</summary>
    private static double RawInfer(DeepTransformer model, Tensor x, int batch)
    {
        var net = model.Network;
        long n = x.shape[0];
        var output = new float[n * Classes];
        var sw = Stopwatch.StartNew();
        using (no_grad())
        {
            for (long s = 0; s < n; s += batch)
            {
                using var scope = NewDisposeScope();
                long len = Math.Min(batch, n - s);
                var probs = nn.functional.softmax(net.call(x.narrow(0, s, len)), 1).contiguous();
                probs.data<float>().CopyTo(output.AsSpan((int)(s * Classes), (int)(len * Classes)));
            }
        }
        return n / sw.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[sorted.Count / 2];
    }
}
