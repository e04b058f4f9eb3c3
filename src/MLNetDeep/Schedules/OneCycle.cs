namespace MLNetDeep.Schedules;

/// <summary>How <see cref="OneCycle"/> moves between two rates.</summary>
public enum AnnealStrategy
{
    /// <summary>Half a cosine: end + (start − end)·½(1 + cos(π·pct)).</summary>
    Cosine,
    /// <summary>A straight line: start + (end − start)·pct.</summary>
    Linear,
}

/// <summary>
/// The 1cycle policy (Smith &amp; Topin, 2018) as PyTorch's <c>OneCycleLR</c>: warm up from initial/<see cref="DivFactor"/>
/// to the optimizer's rate (the peak) over the first <see cref="PctStart"/> of <see cref="TotalSteps"/>, then anneal to
/// initial/(DivFactor·<see cref="FinalDivFactor"/>). With <see cref="ThreePhase"/> the rate first returns symmetrically to the
/// start rate and only then anneals to the minimum.
/// </summary>
/// <remarks>
/// Phase ends are at steps PctStart·TotalSteps − 1 (and 2·PctStart·TotalSteps − 2 for three phases) and TotalSteps − 1,
/// as in PyTorch. Past TotalSteps − 1 the final rate is held (PyTorch raises). PyTorch also cycles momentum; this schedule
/// sets only the rate. Set TotalSteps = epochs × batches per epoch (or epochs with <see cref="ScheduleUnit.Epoch"/>).
/// </remarks>
public sealed class OneCycle : LearningRateSchedule
{
    /// <summary>Length of the cycle in steps. Must be &gt; 0.</summary>
    public required long TotalSteps { get; init; }
    /// <summary>Fraction of the cycle spent increasing the rate, in (0, 1). Default 0.3.</summary>
    public double PctStart { get; init; } = 0.3;
    /// <summary>Start rate = peak / DivFactor. Default 25.</summary>
    public double DivFactor { get; init; } = 25;
    /// <summary>Final rate = start rate / FinalDivFactor. Default 1e4.</summary>
    public double FinalDivFactor { get; init; } = 1e4;
    /// <summary>Cosine (default) or linear annealing.</summary>
    public AnnealStrategy AnnealStrategy { get; init; } = AnnealStrategy.Cosine;
    /// <summary>Up, back down to the start rate, then down to the final rate (fast.ai's original form).</summary>
    public bool ThreePhase { get; init; }

    /// <inheritdoc />
    public override void Validate()
    {
        Require(TotalSteps > 0, nameof(TotalSteps), TotalSteps, "must be > 0");
        Require(PctStart > 0 && PctStart < 1, nameof(PctStart), PctStart, "must be in (0, 1)");
        Require(DivFactor > 0 && double.IsFinite(DivFactor), nameof(DivFactor), DivFactor, "must be a finite number > 0");
        Require(FinalDivFactor > 0 && double.IsFinite(FinalDivFactor), nameof(FinalDivFactor), FinalDivFactor, "must be a finite number > 0");
        var ends = PhaseEnds();
        double previous = 0;
        foreach (var end in ends)
        {
            if (!(end > previous))
                throw new ArgumentOutOfRangeException(nameof(TotalSteps), TotalSteps,
                    $"OneCycle.TotalSteps is too small for PctStart={PctStart}: every phase needs at least one step. Received: TotalSteps={TotalSteps}");
            previous = end;
        }
    }

    private double[] PhaseEnds() => ThreePhase
        ? new[] { PctStart * TotalSteps - 1, 2 * PctStart * TotalSteps - 2, TotalSteps - 1.0 }
        : new[] { PctStart * TotalSteps - 1, TotalSteps - 1.0 };

    /// <inheritdoc />
    public override double GetRate(double initialRate, long step)
    {
        double start = initialRate / DivFactor, min = start / FinalDivFactor;
        var ends = PhaseEnds();
        var (from, to) = ThreePhase
            ? (new[] { start, initialRate, start }, new[] { initialRate, start, min })
            : (new[] { start, initialRate }, new[] { initialRate, min });
        double s = Math.Min(step, TotalSteps - 1), phaseStart = 0;
        for (int i = 0; i < ends.Length; i++)
        {
            if (s <= ends[i] || i == ends.Length - 1)
            {
                double pct = (s - phaseStart) / (ends[i] - phaseStart);
                return AnnealStrategy == AnnealStrategy.Cosine
                    ? to[i] + (from[i] - to[i]) / 2 * (1 + Math.Cos(Math.PI * pct))
                    : from[i] + (to[i] - from[i]) * pct;
            }
            phaseStart = ends[i];
        }
        return min;
    }
}
