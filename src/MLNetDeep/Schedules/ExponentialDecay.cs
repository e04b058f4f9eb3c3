namespace MLNetDeep.Schedules;

/// <summary>
/// rate = initial · DecayRate^(step / DecaySteps), with the exponent floored when <see cref="Staircase"/> (Keras' <c>ExponentialDecay</c>).
/// </summary>
/// <example><c>new ExponentialDecay { DecaySteps = 1000, DecayRate = 0.96 }</c>: ×0.96 every 1000 batches.</example>
public sealed class ExponentialDecay : LearningRateSchedule
{
    /// <summary>Steps over which the rate is multiplied by <see cref="DecayRate"/> once. Must be &gt; 0.</summary>
    public required long DecaySteps { get; init; }
    /// <summary>Factor per <see cref="DecaySteps"/> steps. Must be &gt; 0 (&lt; 1 decays).</summary>
    public required double DecayRate { get; init; }
    /// <summary>Decay in discrete jumps every <see cref="DecaySteps"/> steps instead of continuously.</summary>
    public bool Staircase { get; init; }

    /// <inheritdoc />
    public override void Validate()
    {
        Require(DecaySteps > 0, nameof(DecaySteps), DecaySteps, "must be > 0");
        Require(DecayRate > 0 && double.IsFinite(DecayRate), nameof(DecayRate), DecayRate, "must be a finite number > 0");
    }

    /// <inheritdoc />
    public override double GetRate(double initialRate, long step)
    {
        double p = (double)step / DecaySteps;
        if (Staircase) p = Math.Floor(p);
        return initialRate * Math.Pow(DecayRate, p);
    }
}
