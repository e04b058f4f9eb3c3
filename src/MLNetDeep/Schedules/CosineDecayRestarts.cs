namespace MLNetDeep.Schedules;

/// <summary>
/// Cosine decay with warm restarts (SGDR, Loshchilov &amp; Hutter 2017; Keras' <c>CosineDecayRestarts</c>): the
/// first period lasts <see cref="FirstDecaySteps"/> steps, each next one <see cref="TMul"/> times longer and
/// starting <see cref="MMul"/> times lower. Within period i, at fraction f of it:
/// rate = initial·((1 − Alpha)·MMulⁱ·½(1 + cos(π·f)) + Alpha).
/// </summary>
public sealed class CosineDecayRestarts : LearningRateSchedule
{
    /// <summary>Length of the first period in steps. Must be &gt; 0.</summary>
    public required long FirstDecaySteps { get; init; }
    /// <summary>Each period is this many times longer than the previous one (≥ 1). Default 2.</summary>
    public double TMul { get; init; } = 2.0;
    /// <summary>Each restart begins at this fraction of the previous period's starting rate. Default 1.</summary>
    public double MMul { get; init; } = 1.0;
    /// <summary>Floor as a fraction of the initial rate, in [0, 1]. Default 0.</summary>
    public double Alpha { get; init; }

    /// <inheritdoc />
    public override void Validate()
    {
        Require(FirstDecaySteps > 0, nameof(FirstDecaySteps), FirstDecaySteps, "must be > 0");
        Require(TMul >= 1 && double.IsFinite(TMul), nameof(TMul), TMul, "must be a finite number >= 1 (each period at least as long as the one before)");
        Require(MMul > 0 && double.IsFinite(MMul), nameof(MMul), MMul, "must be a finite number > 0");
        Require(Alpha >= 0 && Alpha <= 1, nameof(Alpha), Alpha, "must be in [0, 1]");
    }

    /// <inheritdoc />
    public override double GetRate(double initialRate, long step)
    {
        // Walk the periods rather than invert the geometric sum with logarithms (Keras does), which can land
        // in the wrong period by rounding exactly at a restart.
        double start = 0, length = FirstDecaySteps;
        int restart = 0;
        while (step >= start + length)
        {
            start += length;
            length *= TMul;
            restart++;
        }
        double fraction = (step - start) / length;
        double cosine = 0.5 * Math.Pow(MMul, restart) * (1 + Math.Cos(Math.PI * fraction));
        return initialRate * ((1 - Alpha) * cosine + Alpha);
    }
}
