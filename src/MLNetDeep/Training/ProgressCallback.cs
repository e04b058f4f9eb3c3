namespace MLNetDeep.Training;

/// <summary>
/// Progress as a component of the loop: the epoch's line in the MLContext's log (loss, validation figures, learning rate,
/// time, ETA) and the options' <see cref="TrainerOptions.OnEpochEnd"/> action.
/// </summary>
internal sealed class ProgressCallback : TrainingCallback
{
    private readonly Action<EpochSummary>? _onEpochEnd;

    public ProgressCallback(Action<EpochSummary>? onEpochEnd) => _onEpochEnd = onEpochEnd;

    public override void OnEpochEnd(TrainingContext context, EpochSummary summary)
    {
        context.Log(summary.ToString());
        _onEpochEnd?.Invoke(summary);
    }
}
