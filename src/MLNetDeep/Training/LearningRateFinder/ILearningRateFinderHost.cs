using Microsoft.ML;
using MLNetDeep.Scoring;

namespace MLNetDeep.Training;

/// <summary>
/// What the learning-rate range test needs from a trainer: a copy of its options to change, and a trainer of the same
/// family, task and MLContext with those options (so the seed, and with it the initial weights, are a real Fit's).
/// Implemented by the family trainers; the engine's <see cref="DeepTrainer{TOptions}"/> is the natural home for it.
/// </summary>
internal interface ILearningRateFinderHost
{
    /// <summary>A copy of the trainer's options (the trainer's own are never changed).</summary>
    TrainerOptions CopyOptions();

    /// <summary>A trainer of the same family, task and environment that trains with <paramref name="options"/>.</summary>
    IEstimator<DeepTransformer> WithOptions(TrainerOptions options);
}
