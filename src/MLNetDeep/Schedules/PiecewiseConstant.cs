namespace MLNetDeep.Schedules;

/// <summary>
/// Constant rates between step boundaries (Keras' <c>PiecewiseConstantDecay</c>): <c>Values[0]</c> while
/// step ≤ <c>Boundaries[0]</c>, <c>Values[i]</c> while <c>Boundaries[i−1]</c> &lt; step ≤ <c>Boundaries[i]</c>,
/// and the last value after the last boundary.
/// </summary>
/// <remarks>The values are absolute rates: the optimizer's <c>LearningRate</c> is not used (parameter-group multipliers still are).</remarks>
/// <example><c>new PiecewiseConstant { Boundaries = [1000, 2000], Values = [1e-2, 1e-3, 1e-4] }</c></example>
public sealed class PiecewiseConstant : LearningRateSchedule
{
    /// <summary>Strictly increasing step boundaries.</summary>
    public required IReadOnlyList<long> Boundaries { get; init; }
    /// <summary>The rates, one more than <see cref="Boundaries"/>.</summary>
    public required IReadOnlyList<double> Values { get; init; }

    /// <inheritdoc />
    public override void Validate()
    {
        if (Boundaries is null) throw new ArgumentNullException(nameof(Boundaries), "PiecewiseConstant.Boundaries must be set (strictly increasing steps).");
        if (Values is null) throw new ArgumentNullException(nameof(Values), "PiecewiseConstant.Values must be set (one more value than boundaries).");
        if (Values.Count != Boundaries.Count + 1)
            throw new ArgumentException(
                $"PiecewiseConstant needs one more value than boundaries. Received: {Boundaries.Count} boundaries and {Values.Count} values.", nameof(Values));
        for (int i = 1; i < Boundaries.Count; i++)
            if (Boundaries[i] <= Boundaries[i - 1])
                throw new ArgumentException(
                    $"PiecewiseConstant.Boundaries must be strictly increasing. Received: Boundaries[{i - 1}]={Boundaries[i - 1]}, Boundaries[{i}]={Boundaries[i]}", nameof(Boundaries));
        for (int i = 0; i < Values.Count; i++)
            Require(Values[i] >= 0 && double.IsFinite(Values[i]), $"Values[{i}]", Values[i], "must be a finite rate >= 0");
    }

    /// <inheritdoc />
    public override double GetRate(double initialRate, long step)
    {
        for (int i = 0; i < Boundaries.Count; i++)
            if (step <= Boundaries[i]) return Values[i];
        return Values[^1];
    }
}
