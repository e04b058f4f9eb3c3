using Microsoft.ML;
using MLNetDeep.Augmentation;
using MLNetDeep.Checkpoints;
using MLNetDeep.EarlyStopping;
using MLNetDeep.Tests.Control;
using MLNetDeep.Training;
using Xunit;
using MLNetDeep.Models.Cnn;

namespace MLNetDeep.Tests.Checkpoints;

[Trait("Category", "Unit")]
public class ResumeTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly Lazy<(IDataView Train, IDataView Test)> Small = new(() => ControlKit.Data(Ml, 600, 300));

    private readonly Xunit.Abstractions.ITestOutputHelper _out;
    public ResumeTests(Xunit.Abstractions.ITestOutputHelper output) => _out = output;

    private static CnnOptions Options()
    {
        // Dropout and augmentation draw from the torch generator; shuffling from the seed: all must resume exactly.
        var o = ControlKit.Mlp(new[] { 32, 16 }, epochs: 4, dropout: 0.3);
        o.Augmentation = new ImageAugmentation { HorizontalFlipProbability = 0.5, NoiseStd = 0.05 };
        // Early stopping's counters and best snapshot are checkpointed too. MinDelta so large that only epoch 1 counts as
        // an improvement: the weights restored at the end come from a snapshot taken before the interruption.
        o.EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.TrainingLoss, MinDelta = 1e9, Patience = 10 };
        o.Epochs = 6;
        return o;
    }

    [Fact]
    public void Resuming_after_cancellation_equals_an_uninterrupted_run()
    {
        using var straight = ControlKit.Fit(Options(), Small.Value.Train, Small.Value.Test);

        var dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-ckpt-" + Guid.NewGuid().ToString("N")[..8]);
        using var cts = new CancellationTokenSource();
        var first = Options();
        first.Checkpoints = new CheckpointOptions { Directory = dir };
        first.CancellationToken = cts.Token;
        first.Callbacks.Add(new ControlKit.Hook { BatchEnd = (c, b, _) => { if (c.Epoch == 3 && b == 4) cts.Cancel(); } });
        Assert.ThrowsAny<OperationCanceledException>(() => ControlKit.Fit(first, Small.Value.Train, Small.Value.Test));
        Assert.True(File.Exists(Path.Combine(dir, "latest", "info.json")));

        var second = Options();
        second.Checkpoints = new CheckpointOptions { Directory = dir };
        using var resumed = ControlKit.Fit(second, Small.Value.Train, Small.Value.Test);

        _out.WriteLine($"{resumed.History.StopReason}; best epoch {resumed.History.BestEpoch}, restored {resumed.History.RestoredEpoch}");
        Assert.Equal(straight.History.Epochs.Count, resumed.History.Epochs.Count);
        Assert.True(resumed.History.Epochs.Count > 3, "stopped before the interruption; the test proves nothing");
        Assert.Equal(straight.History.StopReason, resumed.History.StopReason);
        Assert.Equal(1, straight.History.RestoredEpoch);
        Assert.Equal(1, resumed.History.RestoredEpoch);
        Assert.Equal(straight.History.BestEpoch, resumed.History.BestEpoch);
        Assert.Equal(straight.History.Epochs.Select(e => e.TrainLoss), resumed.History.Epochs.Select(e => e.TrainLoss));
        foreach (var ((name, a), (_, b)) in ControlKit.Weights(straight.Network).Zip(ControlKit.Weights(resumed.Network)))
            Assert.True(ControlKit.Flat(a).SequenceEqual(ControlKit.Flat(b)), $"{name} differs");
        Directory.Delete(dir, true);
    }

    [Fact]
    public void A_run_that_stopped_early_is_not_trained_further_on_resume()
    {
        var dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-ckpt-" + Guid.NewGuid().ToString("N")[..8]);
        var o = ControlKit.Mlp(new[] { 16 }, epochs: 8);
        o.EarlyStopping = new EarlyStoppingOptions { Monitor = Monitored.TrainingLoss, MinDelta = 1e9, Patience = 1 }; // stops after epoch 2
        o.Checkpoints = new CheckpointOptions { Directory = dir };
        using var first = ControlKit.Fit(o, Small.Value.Train);
        using var again = ControlKit.Fit(o, Small.Value.Train);
        Assert.Equal(2, first.History.Epochs.Count);
        Assert.Equal(2, again.History.Epochs.Count);
        Assert.Equal(first.History.StopReason, again.History.StopReason);
        Assert.Equal(1, again.History.RestoredEpoch);
        foreach (var ((_, a), (_, b)) in ControlKit.Weights(first.Network).Zip(ControlKit.Weights(again.Network)))
            Assert.Equal(ControlKit.Flat(a), ControlKit.Flat(b));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void A_checkpoint_from_another_seed_is_refused()
    {
        var dir = Path.Combine(Path.GetTempPath(), "mlnetdeep-ckpt-" + Guid.NewGuid().ToString("N")[..8]);
        var o = ControlKit.Mlp(new[] { 8 }, epochs: 1);
        o.Checkpoints = new CheckpointOptions { Directory = dir };
        using (ControlKit.Fit(o, Small.Value.Train)) { }
        o.Seed = 99;
        o.Epochs = 2;
        Assert.Contains("Seed=3; this run has Seed=99", Assert.ThrowsAny<ArgumentException>(() => ControlKit.Fit(o, Small.Value.Train)).Message);
        Directory.Delete(dir, true);
    }
}
