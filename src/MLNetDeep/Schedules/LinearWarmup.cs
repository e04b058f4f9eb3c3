using MLNetDeep.Training;

namespace MLNetDeep.Schedules;

/// <summary>
/// A linear warm-up in front of any schedule: for step &lt; <see cref="WarmupSteps"/> the rate climbs along
/// target·(StartFactor + (1 − StartFactor)·step/WarmupSteps), where target is the wrapped schedule's first rate;
/// afterwards the wrapped schedule runs from its own step 0 (it is shifted by WarmupSteps).
/// </summary>
/// <example><c>new LinearWarmup { WarmupSteps = 500, Schedule = new CosineDecay { DecaySteps = 10_000 } }</c></example>
public sealed class LinearWarmup : LearningRateSchedule
{
    /// <summary>The schedule that follows the warm-up. Its <see cref="LearningRateSchedule.Unit"/> must equal this one's.</summary>
    public LearningRateSchedule Schedule { get; init; } = new ConstantSchedule();
    /// <summary>Length of the warm-up in steps. Must be &gt; 0.</summary>
    public required long WarmupSteps { get; init; }
    /// <summary>Rate at step 0 as a fraction of the target, in [0, 1]. Default 0 (step 0 then makes no update).</summary>
    public double StartFactor { get; init; }

    /// <inheritdoc />
    public override void Validate()
    {
        if (Schedule is null) throw new ArgumentNullException(nameof(Schedule), "LinearWarmup.Schedule must be set (e.g. new ConstantSchedule() or new CosineDecay { ... }).");
        Require(WarmupSteps > 0, nameof(WarmupSteps), WarmupSteps, "must be > 0");
        Require(StartFactor >= 0 && StartFactor <= 1, nameof(StartFactor), StartFactor, "must be in [0, 1]");
        if (Schedule.Unit != Unit)
            throw new ArgumentException(
                $"LinearWarmup counts {Unit} steps but its Schedule ({Schedule.GetType().Name}) counts {Schedule.Unit} steps. " +
                $"Give both the same Unit. Received: Unit={Unit}, Schedule.Unit={Schedule.Unit}", nameof(Schedule));
        Schedule.Validate();
    }

    /// <inheritdoc />
    public override double GetRate(double initialRate, long step) => step < WarmupSteps
        ? Warm(Schedule.GetRate(initialRate, 0), step)
        : Schedule.GetRate(initialRate, step - WarmupSteps);

    /// <inheritdoc />
    public override double RateAt(double initialRate, long globalBatch, int epoch)
    {
        long step = Unit == ScheduleUnit.Batch ? globalBatch : epoch;
        if (step < WarmupSteps) return Warm(Schedule.RateAt(initialRate, 0, 0), step);
        return Unit == ScheduleUnit.Batch
            ? Schedule.RateAt(initialRate, globalBatch - WarmupSteps, epoch)
            : Schedule.RateAt(initialRate, globalBatch, epoch - (int)WarmupSteps);
    }

    /// <inheritdoc />
    public override ILearningRateScheduler CreateScheduler(double initialRate)
    {
        Validate();
        return new Scheduler(this, Schedule.CreateScheduler(initialRate));
    }

    /// <inheritdoc />
    public override ILearningRateScheduler CreateScheduler(double initialRate, Tasks.PredictionKind task)
    {
        Validate();
        return new Scheduler(this, Schedule.CreateScheduler(initialRate, task));
    }

    private double Warm(double target, long step) => target * (StartFactor + (1 - StartFactor) * step / WarmupSteps);

    private sealed class Scheduler : ILearningRateScheduler
    {
        private readonly LinearWarmup _owner;
        private readonly ILearningRateScheduler _inner;
        public Scheduler(LinearWarmup owner, ILearningRateScheduler inner) => (_owner, _inner) = (owner, inner);

        public double RateAt(long globalBatch, int epoch)
        {
            long step = _owner.Unit == ScheduleUnit.Batch ? globalBatch : epoch;
            if (step < _owner.WarmupSteps) return _owner.Warm(_inner.RateAt(0, 0), step);
            return _owner.Unit == ScheduleUnit.Batch
                ? _inner.RateAt(globalBatch - _owner.WarmupSteps, epoch)
                : _inner.RateAt(globalBatch, epoch - (int)_owner.WarmupSteps);
        }

        public void OnEpochEnd(EpochSummary summary) => _inner.OnEpochEnd(summary);
        public void SaveState(BinaryWriter writer) => _inner.SaveState(writer);
        public void LoadState(BinaryReader reader) => _inner.LoadState(reader);
    }
}
