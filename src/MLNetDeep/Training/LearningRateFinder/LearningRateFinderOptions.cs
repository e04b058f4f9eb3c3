namespace MLNetDeep.Training;

/// <summary>
/// Settings of the learning-rate range test (<see cref="LearningRateFinder.FindLearningRate{TOptions}"/>): the rate rises
/// exponentially from <see cref="MinRate"/> to <see cref="MaxRate"/> over <see cref="Steps"/> batches, as fastai's
/// <c>lr_find</c> and Lightning's <c>Tuner.lr_find</c> do. Defaults are theirs.
/// </summary>
public sealed class LearningRateFinderOptions
{
    /// <summary>The rate of the first batch. Default 1e-7.</summary>
    public double MinRate { get; set; } = 1e-7;

    /// <summary>The rate of the last batch. Default 10.</summary>
    public double MaxRate { get; set; } = 10;

    /// <summary>Batches (one rate each) from <see cref="MinRate"/> to <see cref="MaxRate"/>. Default 100.</summary>
    public int Steps { get; set; } = 100;

    /// <summary>Weight of the running average that smooths the batch losses (debiased, as fastai). Default 0.98.</summary>
    public double Smoothing { get; set; } = 0.98;

    /// <summary>Stop once the smoothed loss exceeds this many times the lowest smoothed loss so far (fastai: 4). Null = run all steps.</summary>
    public double? DivergenceFactor { get; set; } = 4;

    /// <summary>Checks the settings; throws naming the option, the value received and the fix.</summary>
    internal void Validate()
    {
        static void Require(bool ok, string option, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, value, $"LearningRateFinderOptions.{option} {rule}. Received: {option}={value}");
        }
        Require(MinRate > 0 && double.IsFinite(MinRate), nameof(MinRate), MinRate, "must be a finite number > 0 (e.g. 1e-7)");
        Require(MaxRate > MinRate && double.IsFinite(MaxRate), nameof(MaxRate), MaxRate, $"must be a finite number > MinRate ({MinRate}) (e.g. 10)");
        Require(Steps >= 10, nameof(Steps), Steps, "must be >= 10 (the suggestion needs a curve; 100 is usual)");
        Require(Smoothing >= 0 && Smoothing < 1, nameof(Smoothing), Smoothing, "must be in [0, 1) (0 = no smoothing; 0.98 is usual)");
        if (DivergenceFactor is double f) Require(f > 1 && double.IsFinite(f), nameof(DivergenceFactor), f, "must be a finite number > 1 (fastai: 4), or null to run every step");
    }
}
