using MLNetDeep.Tasks;
using MLNetDeep.Training;
using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
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
        var schedule = new ReduceOnPlateau { Monitor = Monitored.ValidationMetric("accuracy"), Factor = 0.1, Patience = 1, Cooldown = 2, MinDelta = 0.05 };
        var rates = schedule.Simulate(0.4, new[] { 0.5, 0.6, 0.6, 0.7, 0.7, 0.7, 0.8 }, PredictionKind.MulticlassClassification);
        ScheduleAssert.Rates(new[] { 0.4, 0.4, 0.4, 0.04, 0.04, 0.004, 0.004, 0.004 }, rates, 1e-15);
    }

    [Fact]
    public void TheDirectionComesFromTheTask()
    {
        Assert.False(new ReduceOnPlateau().Monitor.IsHigherBetter(PredictionKind.MulticlassClassification));
        Assert.True(Monitored.ValidationMetric("accuracy").IsHigherBetter(PredictionKind.MulticlassClassification));
        Assert.False(Monitored.ValidationMetric("rmse").IsHigherBetter(PredictionKind.Regression));
        Assert.True(Monitored.ValidationMetric("sequence_accuracy").IsHigherBetter(PredictionKind.SequenceTagging));
        // A metric the task doesn't report is refused, listing the ones it does.
        var e = Assert.Throws<ArgumentException>(() => Monitored.ValidationMetric("rmse").IsHigherBetter(PredictionKind.BinaryClassification));
        Assert.Contains("reports no validation metric 'rmse'", e.Message);
        // Rising rmse is worse: the rate falls once rmse stops falling.
        var rates = new ReduceOnPlateau { Monitor = Monitored.ValidationMetric("rmse"), Patience = 0, Factor = 0.5 }
            .Simulate(1.0, new[] { 3.0, 2.0, 2.5 }, PredictionKind.Regression);
        ScheduleAssert.Rates(new[] { 1.0, 1.0, 1.0, 0.5 }, rates, 1e-15);
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
        var schedule = new ReduceOnPlateau { Monitor = Monitored.TrainingLoss, Factor = 0.5, Patience = 0, MinDelta = 1e9 };
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
        // Refused before training starts, naming the option and the fix.
        var e = Assert.ThrowsAny<ArgumentException>(() => ScheduleTraining.Train(new ReduceOnPlateau(), 0.1, epochs: 2, rows: 64));
        Assert.Contains("ReduceOnPlateau.Monitor = val_loss needs validation data", e.Message);
        Assert.Contains("ValidationFraction", e.Message);
    }

    [Fact]
    public void MonitorsAValidationMetric()
    {
        var (model, _) = ScheduleTraining.Train(new ReduceOnPlateau { Monitor = Monitored.ValidationMetric("accuracy"), Patience = 0, MinDelta = 1e9, Factor = 0.5 }, 0.1, epochs: 3, validationFraction: 0.25);
        using (model) Assert.Equal(new[] { 0.1, 0.1, 0.05 }, model.History.Epochs.Select(e => e.LearningRate));
    }
}
