using MLNetDeep.Checkpoints;
using MLNetDeep.Datasets;
using MLNetDeep.EarlyStopping;
using MLNetDeep.Models.Seq2Seq;
using MLNetDeep.Schedules;
using MLNetDeep.Tasks;
using MLNetDeep.Tests.Control;
using MLNetDeep.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetDeep.Tests.Seq2Seq;

/// <summary>The seq2seq estimator on the shared engine: early stopping on a sequence metric, bit-identical resume, the loss itself.</summary>
public sealed class Seq2SeqEngineTests
{
    private readonly ITestOutputHelper _out;
    public Seq2SeqEngineTests(ITestOutputHelper output) => _out = output;

    private static Microsoft.ML.MLContext Ml => G2PEstimator.Ml;

    [Fact]
    public void SequenceMetrics_HaveTheirDirections()
    {
        Assert.False(Monitored.ValidationMetric("token_error_rate").IsHigherBetter(PredictionKind.SequenceToSequence));
        Assert.True(Monitored.ValidationMetric("exact_match").IsHigherBetter(PredictionKind.SequenceToSequence));
        Assert.True(Monitored.ValidationMetric("bleu").IsHigherBetter(PredictionKind.SequenceToSequence));
        var e = Assert.Throws<ArgumentException>(() => Monitored.ValidationMetric("accuracy").IsHigherBetter(PredictionKind.SequenceToSequence));
        Assert.Contains("Monitored.ValidationMetric(\"token_error_rate\")", e.Message);
    }

    [Fact]
    public void EarlyStopping_OnTokenErrorRate_StopsWhenItRises_AndRestoresTheBestEpoch()
    {
        // Two epochs of normal training, then a learning rate that wrecks the model: the validation token error rate
        // rises, early stopping (lower is better) stops after Patience epochs and puts epoch 2's weights back.
        var options = G2PEstimator.Options(hidden: 32, epochs: 8);
        var validation = G2PEstimator.Rows(CmuDictSplit.Validation, 150, CmuDictVariants.First);
        options.ValidationData = validation;
        options.LearningRateSchedule = new CustomSchedule((_, epoch, lr) => epoch < 2 ? lr : 0.3, "wreck after epoch 2");
        options.Regularization = new() { GradientClipNorm = 1, DivergenceFactor = null };
        options.EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.ValidationMetric("token_error_rate"), Patience = 2 };
        using var model = Ml.MulticlassClassification.Trainers.Seq2Seq(options).Fit(G2PEstimator.Rows(CmuDictSplit.Train, 1000));

        var ter = model.History.Epochs.Select(e => e.ValidationMetrics["token_error_rate"]).ToList();
        _out.WriteLine($"token error rate per epoch: {string.Join(", ", ter.Select(t => t.ToString("F4")))}; {model.History.StopReason}");
        Assert.Equal(4, ter.Count);
        Assert.Contains("val_token_error_rate did not improve", model.History.StopReason);
        Assert.Equal(2, model.History.BestEpoch);
        Assert.Equal(ter.IndexOf(ter.Min()) + 1, model.History.BestEpoch);
        Assert.Equal(2, model.History.RestoredEpoch);
        Assert.True(ter[3] > ter[1] + 0.1, "the wrecked epochs must be clearly worse, or the test proves nothing");
        // The returned model is epoch 2's: scored through Transform, its token error rate is the best epoch's.
        var restored = Ml.MulticlassClassification.EvaluateSeq2Seq(model.Transform(validation)).TokenErrorRate;
        Assert.True(Math.Abs(restored - ter[1]) < 0.005, $"restored model's token error rate {restored:F4}, best epoch's {ter[1]:F4}");
    }

    private static Seq2SeqOptions ResumableOptions()
    {
        // Scheduled sampling (the coin flips draw from the run's random stream, the ratio follows the epoch), decoder
        // dropout and shuffling: a resumed run must reproduce all of them exactly.
        var o = G2PEstimator.Options(hidden: 16, epochs: 3, seed: 5);
        o.TeacherForcing = new TeacherForcing { Ratio = 1, FinalRatio = 0.4, Decay = TeacherForcingDecay.Linear, DecayEpochs = 2 };
        o.Decoder = new RecurrentDecoder { HiddenSize = 16, EmbeddingSize = 16, Attention = AttentionKind.Bahdanau, AttentionSize = 16, Dropout = 0.2 };
        return o;
    }

    [Fact]
    public void ResumingAfterCancellation_EqualsAnUninterruptedRun_BitForBit()
    {
        var train = G2PEstimator.Rows(CmuDictSplit.Train, 300);
        using var straight = new Seq2SeqTrainer(ResumableOptions()).Fit(train);

        var dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-s2s-ckpt-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            using var cts = new CancellationTokenSource();
            var first = ResumableOptions();
            first.Checkpoints = new CheckpointOptions { Directory = dir };
            first.CancellationToken = cts.Token;
            first.Callbacks.Add(new ControlKit.Hook { BatchEnd = (c, b, _) => { if (c.Epoch == 2 && b == 2) cts.Cancel(); } });
            Assert.ThrowsAny<OperationCanceledException>(() => new Seq2SeqTrainer(first).Fit(train));

            var second = ResumableOptions();
            second.Checkpoints = new CheckpointOptions { Directory = dir };
            using var resumed = new Seq2SeqTrainer(second).Fit(train);

            Assert.Equal(3, resumed.History.Epochs.Count);
            Assert.Equal(straight.History.Epochs.Select(e => e.TrainLoss), resumed.History.Epochs.Select(e => e.TrainLoss));
            foreach (var ((name, a), (_, b)) in straight.Network.named_parameters().Zip(resumed.Network.named_parameters()))
                Assert.True(ControlKit.Flat(a).SequenceEqual(ControlKit.Flat(b)), $"{name} differs");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void ConcurrentFits_OfOneEstimator_EqualTheSequentialFit()
    {
        // Scheduled sampling draws its coin flips from the torch generator: each run must draw from its own stream.
        var train = G2PEstimator.Rows(CmuDictSplit.Train, 200);
        var options = ResumableOptions();
        options.Epochs = 2;
        var trainer = new Seq2SeqTrainer(options);
        using var sequential = trainer.Fit(train);
        var concurrent = Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() => trainer.Fit(train)))).GetAwaiter().GetResult();
        foreach (var model in concurrent)
        {
            Assert.Equal(sequential.History.Epochs.Select(e => e.TrainLoss), model.History.Epochs.Select(e => e.TrainLoss));
            foreach (var ((name, a), (_, b)) in sequential.Network.named_parameters().Zip(model.Network.named_parameters()))
                Assert.True(ControlKit.Flat(a).SequenceEqual(ControlKit.Flat(b)), $"{name} differs");
            model.Dispose();
        }
    }

    [Fact]
    public void Loss_WithLabelSmoothingAndTokenWeights_EqualsAHandComputation()
    {
        // Two rows of 2 and 1 target tokens (K = 3): step targets [t, t, end] and [t, end, pad]; logits for 3 steps.
        const int k = 3;
        var head = new Seq2SeqHead();
        var spec = new HeadSpec { Kind = PredictionKind.SequenceToSequence, ClassNames = new[] { "a", "b", "c" } };
        using var labels = head.StepLabelTensor(spec, new float[] { 2, 0, 1 }, new long[] { 0, 2, 3 });
        Assert.Equal(new long[] { 2, 0, k, 1, k, Models.Seq2Seq.Seq2SeqBatch.IgnoredTarget }, labels.data<long>().ToArray());
        var values = Enumerable.Range(0, 2 * 3 * (k + 1)).Select(i => (float)Math.Sin(1.7 * i)).ToArray();
        using var logits = tensor(values, new long[] { 2, 3, k + 1 });
        var weights = new[] { 0.5, 2.0, 1.5 };
        const double eps = 0.1;
        using var w = tensor(weights.Select(x => (float)x).ToArray());

        // By hand: each real step's smoothed cross-entropy (1 − ε)·(−log p_y) + ε·mean_j(−log p_j), weighted by its
        // token's weight (the end token weighs 1); the mean is Σ w·ce / Σ w over the real steps.
        var real = new[] { (0, 0, 2), (0, 1, 0), (0, 2, k), (1, 0, 1), (1, 1, k) };
        double num = 0, den = 0, plain = 0;
        foreach (var (row, step, y) in real)
        {
            var z = values.Skip((row * 3 + step) * (k + 1)).Take(k + 1).Select(v => (double)v).ToArray();
            double lse = Math.Log(z.Sum(Math.Exp));
            double ce = lse - z[y], uniform = z.Average(v => lse - v);
            double weight = y == k ? 1 : weights[y];
            num += weight * ((1 - eps) * ce + eps * uniform);
            den += weight;
            plain += ce;
        }
        double smoothedWeighted = head.TrainingLoss(logits, labels, null, eps, w).item<float>();
        double validation = TaskHead.Reduce(head.Loss(logits, labels), null).item<float>();
        Assert.Equal(num / den, smoothedWeighted, 5);
        Assert.Equal(plain / real.Length, validation, 5);
    }
}
