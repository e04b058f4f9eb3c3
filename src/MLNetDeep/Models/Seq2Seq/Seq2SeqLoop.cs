using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Seq2Seq;

/// <summary>One source–target pair: the source as the input layout reads it (token ids as floats, steps, a vector) and the target key ids 1..K.</summary>
public sealed record Seq2SeqExample(float[] Source, int[] Target);

/// <summary>Settings of <see cref="Seq2SeqLoop.Train"/>.</summary>
public sealed class Seq2SeqLoopOptions
{
    /// <summary>Passes over the data.</summary>
    public int Epochs { get; init; } = 1;
    /// <summary>Rows per update.</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Adam's learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Gradient clipping by global norm (on by default, as in the sequence trainers); null = off.</summary>
    public double? GradientClipNorm { get; init; } = 1.0;
    /// <summary>Teacher forcing ratio and its decay.</summary>
    public TeacherForcing TeacherForcing { get; init; } = new();
    /// <summary>Seed of the shuffling and of the teacher-forcing coin flips.</summary>
    public int Seed { get; init; }
    /// <summary>Called after every epoch with (epoch, mean training loss).</summary>
    public Action<int, double>? OnEpoch { get; init; }
}

/// <summary>
/// A plain TorchSharp training loop for a <see cref="Seq2SeqNetwork"/> (no ML.NET): shuffled mini-batches, teacher
/// forcing, Adam, gradient clipping, masked cross-entropy. It is the reference the ML.NET estimator is measured
/// against, and a way to train the model without a pipeline.
/// </summary>
public static class Seq2SeqLoop
{
    /// <summary>Trains <paramref name="network"/> in place; returns training rows per second and each epoch's mean loss.</summary>
    public static (double RowsPerSecond, List<double> EpochLosses) Train(Seq2SeqNetwork network, IReadOnlyList<Seq2SeqExample> rows, Seq2SeqLoopOptions options)
    {
        if (rows.Count == 0) throw new ArgumentException("Training needs at least one row. Received: 0 rows", nameof(rows));
        if (options.Epochs <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, $"Epochs must be > 0. Received: Epochs={options.Epochs}");
        if (options.BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, $"BatchSize must be > 0. Received: BatchSize={options.BatchSize}");
        options.TeacherForcing.Validate();
        var arch = network.Architecture;
        var parameters = network.parameters().ToList();
        using var optimizer = optim.Adam(parameters, options.LearningRate);
        var rng = new Random(options.Seed);
        var coins = new Generator((ulong)options.Seed);
        var order = Enumerable.Range(0, rows.Count).ToArray();
        var losses = new List<double>();
        network.train();
        var sw = Stopwatch.StartNew();
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            double ratio = options.TeacherForcing.RatioAt(epoch), sum = 0;
            int batches = 0;
            rng.Shuffle(order);
            for (int start = 0; start < order.Length; start += options.BatchSize)
            {
                using var scope = NewDisposeScope();
                var idx = order.AsSpan(start, Math.Min(options.BatchSize, order.Length - start)).ToArray();
                using var batch = Seq2SeqBatch.Create(arch, idx.Select(i => rows[i].Source).ToList(), idx.Select(i => rows[i].Target).ToList(), start);
                optimizer.zero_grad();
                var logits = network.Forward(batch.Source, batch.SourceLengths, batch.DecoderInput, ratio, coins);
                var loss = batch.Loss(logits);
                loss.backward();
                if (options.GradientClipNorm is double clip) nn.utils.clip_grad_norm_(parameters, clip);
                optimizer.step();
                sum += loss.item<float>();
                batches++;
            }
            losses.Add(sum / batches);
            options.OnEpoch?.Invoke(epoch, sum / batches);
        }
        network.eval();
        return ((double)rows.Count * options.Epochs / sw.Elapsed.TotalSeconds, losses);
    }

    /// <summary>Decodes <paramref name="sources"/> in batches of <paramref name="batchSize"/> rows (greedy or beam, by <paramref name="options"/>).</summary>
    public static Seq2SeqPrediction[] Decode(Seq2SeqNetwork network, IReadOnlyList<float[]> sources, Seq2SeqDecodeOptions? options = null, int batchSize = 256)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"batchSize must be > 0. Received: batchSize={batchSize}");
        var arch = network.Architecture;
        var result = new List<Seq2SeqPrediction>(sources.Count);
        for (int start = 0; start < sources.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batchSize, sources.Count - start);
            var (x, len) = Seq2SeqBatch.CollateSources(arch.Input, sources, start, n, start, "Source");
            result.AddRange(Seq2SeqDecoder.Decode(network, x, len, options));
        }
        return result.ToArray();
    }
}
