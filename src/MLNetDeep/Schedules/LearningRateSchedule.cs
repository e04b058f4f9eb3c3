using System.Text.Json.Serialization;

namespace MLNetDeep.Schedules;

/// <summary>Whether a schedule advances once per mini-batch or once per epoch.</summary>
public enum ScheduleUnit
{
    /// <summary>The step passed to the schedule is the global batch index (0-based).</summary>
    Batch,
    /// <summary>The step passed to the schedule is the epoch index (0-based).</summary>
    Epoch,
}

/// <summary>
/// Maps training progress to a learning rate. The trainer asks for the rate before every batch;
/// <see cref="Unit"/> decides whether the schedule sees the batch index or the epoch index as its step.
/// Schedules are pure functions of (initial rate, step), so <see cref="Preview"/> gives the exact sequence
/// without training.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(ConstantSchedule), "constant")]
public abstract class LearningRateSchedule
{
    /// <summary>Per batch (default) or per epoch.</summary>
    public ScheduleUnit Unit { get; init; } = ScheduleUnit.Batch;

    /// <summary>The rate at <paramref name="step"/> (0-based, in <see cref="Unit"/>s) for a run that starts at <paramref name="initialRate"/>.</summary>
    public abstract double GetRate(double initialRate, long step);

    /// <summary>Checks the options; throws naming the option and the value received.</summary>
    public virtual void Validate() { }

    /// <summary>The rates for steps 0 … <paramref name="steps"/>−1.</summary>
    public double[] Preview(double initialRate, int steps)
    {
        Validate();
        var rates = new double[steps];
        for (int i = 0; i < steps; i++) rates[i] = GetRate(initialRate, i);
        return rates;
    }

    /// <summary>The rate for a given batch of a given epoch.</summary>
    public double RateAt(double initialRate, long globalBatch, int epoch) =>
        GetRate(initialRate, Unit == ScheduleUnit.Batch ? globalBatch : epoch);
}

/// <summary>The optimizer's learning rate, unchanged.</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    /// <inheritdoc />
    public override double GetRate(double initialRate, long step) => initialRate;
}
