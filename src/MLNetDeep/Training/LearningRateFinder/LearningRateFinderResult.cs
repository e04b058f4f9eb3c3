using System.Globalization;

namespace MLNetDeep.Training;

/// <summary>
/// What a learning-rate range test measured: the rate of every batch, its loss (before that batch's update) and the
/// smoothed loss, the suggested rate, and why the test stopped. Plot it with <c>MLNetDeep.Plotting</c>'s
/// <c>result.SavePlot(path)</c>.
/// </summary>
public sealed class LearningRateFinderResult
{
    internal LearningRateFinderResult(double[] rates, double[] losses, double[] smoothed, int suggestedIndex, int minimumIndex, string stopReason, bool diverged)
    {
        Rates = rates;
        Losses = losses;
        SmoothedLosses = smoothed;
        SuggestedIndex = suggestedIndex;
        MinimumIndex = minimumIndex;
        StopReason = stopReason;
        Diverged = diverged;
    }

    /// <summary>The learning rate of each batch run, rising exponentially.</summary>
    public IReadOnlyList<double> Rates { get; }

    /// <summary>Each batch's training loss (computed before its update; NaN or infinite where the loss diverged).</summary>
    public IReadOnlyList<double> Losses { get; }

    /// <summary>The debiased running average of <see cref="Losses"/> (what the suggestion and the stop rule read).</summary>
    public IReadOnlyList<double> SmoothedLosses { get; }

    /// <summary>
    /// The suggested learning rate: where the smoothed loss falls fastest against log(rate) (fastai's "steep" rule, the
    /// minimum of its slope), leaving out the first tenth of the steps and the last five, as fastai does.
    /// </summary>
    public double SuggestedRate => Rates[SuggestedIndex];

    /// <summary>Index of <see cref="SuggestedRate"/> in <see cref="Rates"/>.</summary>
    public int SuggestedIndex { get; }

    /// <summary>fastai's other rule: the rate of the lowest smoothed loss divided by 10 (more conservative).</summary>
    public double MinimumRateOverTen => Rates[MinimumIndex] / 10;

    /// <summary>Index of the lowest smoothed loss in <see cref="Rates"/>.</summary>
    public int MinimumIndex { get; }

    /// <summary>Why the test stopped: all steps run, or the loss diverged (and at which rate).</summary>
    public string StopReason { get; }

    /// <summary>True when the test stopped because the loss diverged (smoothed loss past the factor, or not finite).</summary>
    public bool Diverged { get; }

    /// <inheritdoc />
    public override string ToString() => string.Format(CultureInfo.InvariantCulture,
        "suggested learning rate {0:G3} (steepest descent; minimum/10: {1:G3}); {2} steps from {3:G3} to {4:G3}; {5}",
        SuggestedRate, MinimumRateOverTen, Rates.Count, Rates[0], Rates[^1], StopReason);
}
