namespace MLNetDeep.Schedules;

/// <summary>The optimizer's learning rate, unchanged (the default when no schedule is set).</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    /// <inheritdoc />
    public override double GetRate(double initialRate, long step) => initialRate;
}
