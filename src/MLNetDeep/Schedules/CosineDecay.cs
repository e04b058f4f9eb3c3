namespace MLNetDeep.Schedules;

/// <summary>
/// Half a cosine from the initial rate down to Alpha·initial over <see cref="DecaySteps"/> steps, then constant
/// (Loshchilov &amp; Hutter's SGDR without restarts; Keras' <c>CosineDecay</c>):
/// rate = initial·((1 − Alpha)·½(1 + cos(π·min(step, DecaySteps)/DecaySteps)) + Alpha).
/// For restarts use <see cref="CosineDecayRestarts"/>; for a warm-up wrap it in <see cref="LinearWarmup"/>.
/// </summary>
public sealed class CosineDecay : LearningRateSchedule
{
    /// <summary>Steps to decay over. Must be &gt; 0.</summary>
    public required long DecaySteps { get; init; }
    /// <summary>Final rate as a fraction of the initial rate, in [0, 1]. Default 0.</summary>
    public double Alpha { get; init; }

    /// <inheritdoc />
    public override void Validate()
    {
        Require(DecaySteps > 0, nameof(DecaySteps), DecaySteps, "must be > 0");
        Require(Alpha >= 0 && Alpha <= 1, nameof(Alpha), Alpha, "must be in [0, 1] (the final rate as a fraction of the initial one)");
    }

    /// <inheritdoc />
    public override double GetRate(double initialRate, long step)
    {
        double completed = Math.Min(step, DecaySteps) / (double)DecaySteps;
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * completed));
        return initialRate * ((1 - Alpha) * cosine + Alpha);
    }
}
