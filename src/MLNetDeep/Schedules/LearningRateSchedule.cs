using System.Globalization;
using System.Text.Json.Serialization;
using MLNetDeep.Training;

namespace MLNetDeep.Schedules;

/// <summary>Whether a schedule advances once per mini-batch or once per epoch.</summary>
public enum ScheduleUnit
{
    /// <summary>The step passed to the schedule is the global batch index (0-based).</summary>
    Batch,
    /// <summary>The step passed to the schedule is the epoch index (0-based).</summary>
    Epoch,
}

/// <summary>
/// Maps training progress to a learning rate. The trainer asks for the rate before every batch;
/// <see cref="Unit"/> decides whether the schedule sees the batch index or the epoch index as its step.
/// Most schedules are pure functions of (initial rate, step), so <see cref="Preview(double, int)"/> gives the
/// exact sequence without training; <see cref="ReduceOnPlateau"/> also depends on validation figures
/// (see <see cref="ReduceOnPlateau.Simulate"/>).
/// </summary>
/// <remarks>
/// The initial rate is the optimizer's <c>LearningRate</c>; a schedule scales from it (except
/// <see cref="PiecewiseConstant"/>, whose values are absolute rates). Options objects are never changed by
/// training: per-run state lives in the <see cref="ILearningRateScheduler"/> that <see cref="CreateScheduler(double, Tasks.PredictionKind)"/> returns.
/// </remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(ConstantSchedule), "constant")]
[JsonDerivedType(typeof(PiecewiseConstant), "piecewise_constant")]
[JsonDerivedType(typeof(ExponentialDecay), "exponential_decay")]
[JsonDerivedType(typeof(PolynomialDecay), "polynomial_decay")]
[JsonDerivedType(typeof(InverseTimeDecay), "inverse_time_decay")]
[JsonDerivedType(typeof(CosineDecay), "cosine_decay")]
[JsonDerivedType(typeof(CosineDecayRestarts), "cosine_decay_restarts")]
[JsonDerivedType(typeof(OneCycle), "one_cycle")]
[JsonDerivedType(typeof(ReduceOnPlateau), "reduce_on_plateau")]
[JsonDerivedType(typeof(LinearWarmup), "linear_warmup")]
[JsonDerivedType(typeof(CustomSchedule), "custom")]
public abstract class LearningRateSchedule
{
    /// <summary>Per batch (default) or per epoch.</summary>
    public ScheduleUnit Unit { get; init; } = ScheduleUnit.Batch;

    /// <summary>The rate at <paramref name="step"/> (0-based, in <see cref="Unit"/>s) for a run that starts at <paramref name="initialRate"/>.</summary>
    public abstract double GetRate(double initialRate, long step);

    /// <summary>Checks the options; throws naming the option, the value received and the allowed range.</summary>
    public virtual void Validate() { }

    /// <summary>The rates for steps 0 … <paramref name="steps"/>−1 (in <see cref="Unit"/>s).</summary>
    public double[] Preview(double initialRate, int steps)
    {
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, $"steps must be >= 0. Received: steps={steps}");
        Validate();
        var rates = new double[steps];
        for (int i = 0; i < steps; i++) rates[i] = GetRate(initialRate, i);
        return rates;
    }

    /// <summary>The rate of every batch of a run of <paramref name="epochs"/> epochs of <paramref name="stepsPerEpoch"/> batches, exactly as the trainer asks for it.</summary>
    public double[] Preview(double initialRate, int epochs, int stepsPerEpoch)
    {
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, $"epochs must be >= 0. Received: epochs={epochs}");
        if (stepsPerEpoch <= 0) throw new ArgumentOutOfRangeException(nameof(stepsPerEpoch), stepsPerEpoch, $"stepsPerEpoch must be > 0. Received: stepsPerEpoch={stepsPerEpoch}");
        Validate();
        var scheduler = CreateScheduler(initialRate);
        var rates = new double[(long)epochs * stepsPerEpoch];
        for (int e = 0; e < epochs; e++)
            for (int b = 0; b < stepsPerEpoch; b++)
                rates[(long)e * stepsPerEpoch + b] = scheduler.RateAt((long)e * stepsPerEpoch + b, e);
        return rates;
    }

    /// <summary>The rate for a given batch of a given epoch (both 0-based): <see cref="GetRate"/> at the step <see cref="Unit"/> selects.</summary>
    public virtual double RateAt(double initialRate, long globalBatch, int epoch) =>
        GetRate(initialRate, Unit == ScheduleUnit.Batch ? globalBatch : epoch);

    /// <summary>
    /// The per-run object the trainer asks for rates and tells about finished epochs. Stateless schedules
    /// return a thin wrapper over <see cref="RateAt"/>; <see cref="ReduceOnPlateau"/> keeps its state there.
    /// </summary>
    public virtual ILearningRateScheduler CreateScheduler(double initialRate)
    {
        Validate();
        return new StatelessScheduler(this, initialRate);
    }

    /// <summary>
    /// The per-run scheduler for a model of <paramref name="task"/> (schedules that watch a validation metric take its
    /// direction from the task). The trainer calls this one; default: <see cref="CreateScheduler(double)"/>.
    /// </summary>
    public virtual ILearningRateScheduler CreateScheduler(double initialRate, Tasks.PredictionKind task) => CreateScheduler(initialRate);

    /// <summary>Throws unless the condition holds, naming the option and the value received (Keras style).</summary>
    protected void Require(bool ok, string option, object value, string rule)
    {
        if (!ok)
            throw new ArgumentOutOfRangeException(option, value,
                $"{GetType().Name}.{option} {rule}. Received: {option}={Convert.ToString(value, CultureInfo.InvariantCulture)}");
    }

    private sealed class StatelessScheduler : ILearningRateScheduler
    {
        private readonly LearningRateSchedule _schedule;
        private readonly double _initialRate;
        public StatelessScheduler(LearningRateSchedule schedule, double initialRate) => (_schedule, _initialRate) = (schedule, initialRate);
        public double RateAt(long globalBatch, int epoch) => _schedule.RateAt(_initialRate, globalBatch, epoch);
        public void OnEpochEnd(EpochSummary summary) { }
    }
}

/// <summary>A schedule's state during one training run.</summary>
public interface ILearningRateScheduler
{
    /// <summary>The base rate for batch <paramref name="globalBatch"/> of epoch <paramref name="epoch"/> (both 0-based).</summary>
    double RateAt(long globalBatch, int epoch);
    /// <summary>Called by the trainer after every epoch (validation figures included), before the next epoch's first rate is asked for.</summary>
    void OnEpochEnd(EpochSummary summary);
    /// <summary>Writes the scheduler's state for a checkpoint (stateless schedulers write nothing).</summary>
    void SaveState(BinaryWriter writer) { }
    /// <summary>Reads back what <see cref="SaveState"/> wrote.</summary>
    void LoadState(BinaryReader reader) { }
}
