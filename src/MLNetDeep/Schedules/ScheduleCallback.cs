using MLNetDeep.Tasks;
using MLNetDeep.Training;

namespace MLNetDeep.Schedules;

/// <summary>
/// The learning-rate schedule as a component of the loop: before every batch it asks the run's scheduler for the rate
/// and sets it on the optimizer; after every epoch it hands the scheduler the epoch's figures (reduce-on-plateau reads
/// them). Its scheduler's state goes into checkpoints.
/// </summary>
internal sealed class ScheduleCallback : TrainingCallback
{
    private readonly ILearningRateScheduler _scheduler;

    public ScheduleCallback(LearningRateSchedule? schedule, double initialRate, PredictionKind task) =>
        _scheduler = (schedule ?? new ConstantSchedule()).CreateScheduler(initialRate, task);

    public override void OnBatchBegin(TrainingContext context, int batch)
    {
        double rate = _scheduler.RateAt(context.GlobalStep, context.Epoch - 1);
        context.Updater.SetLearningRate(rate);
        context.LearningRate = rate;
    }

    public override void OnEpochEnd(TrainingContext context, EpochSummary summary) => _scheduler.OnEpochEnd(summary);

    public override bool HasState => true;
    public override void SaveState(BinaryWriter writer) => _scheduler.SaveState(writer);
    public override void LoadState(BinaryReader reader) => _scheduler.LoadState(reader);
}
