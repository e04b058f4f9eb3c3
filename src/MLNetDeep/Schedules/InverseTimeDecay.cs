namespace MLNetDeep.Schedules;

/// <summary>
/// rate = initial / (1 + DecayRate · step / DecaySteps), with step / DecaySteps floored when <see cref="Staircase"/>
/// (Keras' <c>InverseTimeDecay</c>).
/// </summary>
public sealed class InverseTimeDecay : LearningRateSchedule
{
    /// <summary>Steps per unit of decay. Must be &gt; 0.</summary>
    public required long DecaySteps { get; init; }
    /// <summary>How fast the rate falls. Must be ≥ 0.</summary>
    public required double DecayRate { get; init; }
    /// <summary>Decay in discrete jumps every <see cref="DecaySteps"/> steps.</summary>
    public bool Staircase { get; init; }

    /// <inheritdoc />
    public override void Validate()
    {
        Require(DecaySteps > 0, nameof(DecaySteps), DecaySteps, "must be > 0");
        Require(DecayRate >= 0 && double.IsFinite(DecayRate), nameof(DecayRate), DecayRate, "must be a finite number >= 0");
    }

    /// <inheritdoc />
    public override double GetRate(double initialRate, long step)
    {
        double p = (double)step / DecaySteps;
        if (Staircase) p = Math.Floor(p);
        return initialRate / (1 + DecayRate * p);
    }
}
