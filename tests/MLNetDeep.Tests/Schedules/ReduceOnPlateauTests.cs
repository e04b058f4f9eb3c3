using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

public class ReduceOnPlateauTests
{
    [Fact]
    public void RatesFollowKerasLogicForAValidationLossSequence()
    {
        // Expected from a line-by-line port of Keras' ReduceLROnPlateau.on_epoch_end (factor 0.5, patience 2, cooldown 1, min 0.1):
        // best 0.9 after epoch 1; epochs 2, 3 don't improve → halve; cooldown epoch 4 resets the wait but counts; and so on to the floor 0.1.
        var schedule = new ReduceOnPlateau { Factor = 0.5, Patience = 2, Cooldown = 1, MinDelta = 0, MinRate = 0.1 };
        var rates = schedule.Simulate(1.0, new[] { 1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99 });
        ScheduleAssert.Rates(new[] { 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.1, 0.1, 0.1 }, rates);
    }

    [Fact]
    public void MaxModeWithMinDeltaAndLongCooldown()
    {
        // Keras port: accuracy must rise by more than 0.05 to count; patience 1, cooldown 2, factor 0.1.
        var schedule = new ReduceOnPlateau { Monitor = "val_accuracy", Factor = 0.1, Patience = 1, Cooldown = 2, MinDelta = 0.05 };
        Assert.True(schedule.MaximizesMonitor);
        var rates = schedule.Simulate(0.4, new[] { 0.5, 0.6, 0.6, 0.7, 0.7, 0.7, 0.8 });
        ScheduleAssert.Rates(new[] { 0.4, 0.4, 0.4, 0.04, 0.04, 0.004, 0.004, 0.004 }, rates, 1e-15);
    }

    [Fact]
    public void AutoModeFromTheMonitorName()
    {
        Assert.False(new ReduceOnPlateau().MaximizesMonitor);
        Assert.True(new ReduceOnPlateau { Monitor = "val_accuracy" }.MaximizesMonitor);
        Assert.False(new ReduceOnPlateau { Monitor = "val_rmse" }.MaximizesMonitor);
        Assert.False(new ReduceOnPlateau { Monitor = "val_accuracy", Mode = PlateauMode.Min }.MaximizesMonitor);
    }

    [Fact]
    public void PreviewWithoutFiguresIsTheInitialRate() => ScheduleAssert.Rates(new[] { 0.3, 0.3, 0.3 }, new ReduceOnPlateau().Preview(0.3, 3));

    [Fact]
    public void FactorOfOneOrMoreIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceOnPlateau { Factor = 1.0 }.Validate());
        Assert.Contains("ReduceOnPlateau.Factor must be in (0, 1)", e.Message);
        Assert.Contains("Received: Factor=1", e.Message);
    }

    [Fact]
    public void TheTrainerFeedsItEachEpochsFigures()
    {
        // Training loss as the monitor, and MinDelta so large that only the first figure (against best = +∞) counts as an
        // improvement: with patience 0 the rate halves after every later epoch.
        var schedule = new ReduceOnPlateau { Monitor = "loss", Factor = 0.5, Patience = 0, MinDelta = 1e9 };
        var (model, rates) = ScheduleTraining.Train(schedule, 0.1, epochs: 4);
        using (model)
        {
            // 256 rows / 64 = 4 batches per epoch; the rate changes only between epochs.
            var perEpoch = new[] { 0.1, 0.1, 0.05, 0.025 };
            ScheduleAssert.Rates(perEpoch.SelectMany(r => Enumerable.Repeat(r, 4)).ToArray(), rates);
            Assert.Equal(perEpoch, model.History.Epochs.Select(e => e.LearningRate));
        }
    }

    [Fact]
    public void MonitoringValidationLossWithoutValidationDataFailsClearly()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ScheduleTraining.Train(new ReduceOnPlateau(), 0.1, epochs: 2, rows: 64));
        Assert.Contains("monitors 'val_loss', but epoch 1 has no such figure. Available: loss", e.Message);
        Assert.Contains("ValidationFraction", e.Message);
    }

    [Fact]
    public void MonitorsAValidationMetric()
    {
        var (model, _) = ScheduleTraining.Train(new ReduceOnPlateau { Monitor = "val_accuracy", Patience = 0, MinDelta = 1e9, Factor = 0.5 }, 0.1, epochs: 3, validationFraction: 0.25);
        using (model) Assert.Equal(new[] { 0.1, 0.1, 0.05 }, model.History.Epochs.Select(e => e.LearningRate));
    }
}
