using MLNetDeep.Schedules;
using Xunit;

namespace MLNetDeep.Tests.Schedules;

[Trait("Category", "Unit")]
public class LinearWarmupTests
{
    [Fact]
    public void ClimbsLinearlyThenRunsTheWrappedScheduleFromItsStart()
    {
        var schedule = new LinearWarmup { WarmupSteps = 4, Schedule = new ExponentialDecay { DecaySteps = 1, DecayRate = 0.5 } };
        ScheduleAssert.Rates(new[] { 0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.25 }, schedule.Preview(1.0, 7));
    }

    [Fact]
    public void StartFactor()
    {
        // target·(0.2 + 0.8·k/2) for k < 2, then constant.
        var schedule = new LinearWarmup { WarmupSteps = 2, StartFactor = 0.2 };
        ScheduleAssert.Rates(new[] { 0.02, 0.06, 0.1, 0.1 }, schedule.Preview(0.1, 4));
    }

    [Fact]
    public void PerEpochWarmupOfAPerEpochSchedule()
    {
        var schedule = new LinearWarmup
        {
            Unit = ScheduleUnit.Epoch,
            WarmupSteps = 2,
            StartFactor = 0.5,
            Schedule = new PiecewiseConstant { Unit = ScheduleUnit.Epoch, Boundaries = new long[] { 0 }, Values = new[] { 0.4, 0.2 } },
        };
        // 4 epochs × 2 batches: epoch 0 at 0.4·0.5, epoch 1 at 0.4·0.75, epoch 2 = wrapped epoch 0 (0.4), epoch 3 = wrapped epoch 1 (0.2).
        ScheduleAssert.Rates(new[] { 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.2, 0.2 }, schedule.Preview(1.0, 4, 2));
    }

    [Fact]
    public void WrapsAStatefulSchedule()
    {
        var schedule = new LinearWarmup { WarmupSteps = 2, Schedule = new ReduceOnPlateau() };
        ScheduleAssert.Rates(new[] { 0.0, 0.5, 1.0, 1.0 }, schedule.Preview(1.0, 1, 4));
    }

    [Fact]
    public void MismatchedUnitsAreRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new LinearWarmup { WarmupSteps = 10, Schedule = new ConstantSchedule { Unit = ScheduleUnit.Epoch } }.Validate());
        Assert.Contains("Received: Unit=Batch, Schedule.Unit=Epoch", e.Message);
    }

    [Fact]
    public void TheTrainerUsesItPerBatch()
    {
        var schedule = new LinearWarmup { WarmupSteps = 4, Schedule = new CosineDecay { DecaySteps = 4 } };
        var (model, rates) = ScheduleTraining.Train(schedule, 0.2, epochs: 2);
        using (model) ScheduleAssert.Rates(schedule.Preview(0.2, 2, 4), rates, 1e-15);
        ScheduleAssert.Rates(new[] { 0.0, 0.05, 0.1, 0.15, 0.2, 0.2 * (0.5 + 0.5 * Math.Sqrt(0.5)), 0.1, 0.2 * (0.5 - 0.5 * Math.Sqrt(0.5)) }, rates);
    }
}
