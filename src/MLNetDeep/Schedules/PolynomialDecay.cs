namespace MLNetDeep.Schedules;

/// <summary>
/// From the initial rate to <see cref="EndRate"/> over <see cref="DecaySteps"/> steps along (1 − step/DecaySteps)^Power
/// (Keras' <c>PolynomialDecay</c>): rate = (initial − end)·(1 − p)^Power + end, p = min(step, DecaySteps)/DecaySteps.
/// With <see cref="Cycle"/> the horizon grows to the next multiple of DecaySteps instead of holding at the end rate.
/// </summary>
public sealed class PolynomialDecay : LearningRateSchedule
{
    /// <summary>Steps to reach <see cref="EndRate"/>. Must be &gt; 0.</summary>
    public required long DecaySteps { get; init; }
    /// <summary>Final rate. Default 1e-4 (Keras).</summary>
    public double EndRate { get; init; } = 1e-4;
    /// <summary>Exponent of the polynomial; 1 = linear. Default 1.</summary>
    public double Power { get; init; } = 1.0;
    /// <summary>Restart after DecaySteps with the horizon stretched to DecaySteps·ceil(step/DecaySteps).</summary>
    public bool Cycle { get; init; }

    /// <inheritdoc />
    public override void Validate()
    {
        Require(DecaySteps > 0, nameof(DecaySteps), DecaySteps, "must be > 0");
        Require(EndRate >= 0 && double.IsFinite(EndRate), nameof(EndRate), EndRate, "must be a finite rate >= 0");
        Require(Power > 0 && double.IsFinite(Power), nameof(Power), Power, "must be a finite number > 0");
    }

    /// <inheritdoc />
    public override double GetRate(double initialRate, long step)
    {
        double horizon = DecaySteps;
        double s = step;
        if (Cycle)
            horizon = DecaySteps * (step == 0 ? 1.0 : Math.Ceiling((double)step / DecaySteps));
        else
            s = Math.Min(step, DecaySteps);
        return (initialRate - EndRate) * Math.Pow(1 - s / horizon, Power) + EndRate;
    }
}
