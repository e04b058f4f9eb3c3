using MLNetDeep.Tasks;
using MLNetDeep.Training;

namespace MLNetDeep.Schedules;

/// <summary>
/// Multiplies the rate by <see cref="Factor"/> when a monitored figure has not improved for <see cref="Patience"/>
/// epochs (Keras' <c>ReduceLROnPlateau</c> callback, as a schedule). Stateful: it reads the figures of each finished
/// epoch, so it always steps per epoch (<see cref="LearningRateSchedule.Unit"/> is ignored) and
/// <see cref="LearningRateSchedule.Preview(double, int)"/> shows the initial rate; <see cref="Simulate"/> replays a
/// sequence of figures.
/// </summary>
/// <remarks>
/// After each epoch (Keras' logic): in cooldown the counter falls and the wait resets; an improvement
/// (below best − MinDelta for Min, above best + MinDelta for Max) records the new best and resets the wait; otherwise,
/// once the cooldown counter is 0, the wait grows and on reaching Patience the rate becomes max(rate·Factor, MinRate) (if above MinRate),
/// the cooldown starts and the wait resets.
/// The direction of the monitored figure comes from the task: losses and errors should fall, accuracies rise.
/// </remarks>
public sealed class ReduceOnPlateau : LearningRateSchedule
{
    /// <summary>Figure to watch. Default <see cref="Monitored.ValidationLoss"/> (needs validation data or a ValidationFraction).</summary>
    public Monitored Monitor { get; init; } = Monitored.ValidationLoss;
    /// <summary>Rate multiplier on a plateau, in (0, 1). Default 0.1.</summary>
    public double Factor { get; init; } = 0.1;
    /// <summary>Epochs without improvement before the rate is reduced. Default 10.</summary>
    public int Patience { get; init; } = 10;
    /// <summary>Smallest change that counts as an improvement. Default 1e-4.</summary>
    public double MinDelta { get; init; } = 1e-4;
    /// <summary>Epochs after a reduction during which no further reduction happens. Default 0.</summary>
    public int Cooldown { get; init; }
    /// <summary>The rate never goes below this. Default 0.</summary>
    public double MinRate { get; init; }

    /// <inheritdoc />
    public override void Validate()
    {
        if (Monitor is null)
            throw new ArgumentNullException(nameof(Monitor), "ReduceOnPlateau.Monitor must be set: Monitored.ValidationLoss, Monitored.TrainingLoss or Monitored.ValidationMetric(\"accuracy\").");
        Require(Factor > 0 && Factor < 1, nameof(Factor), Factor, "must be in (0, 1): it multiplies the rate on a plateau (1.0 or more would not reduce it)");
        Require(Patience >= 0, nameof(Patience), Patience, "must be >= 0");
        Require(Cooldown >= 0, nameof(Cooldown), Cooldown, "must be >= 0");
        Require(MinDelta >= 0 && double.IsFinite(MinDelta), nameof(MinDelta), MinDelta, "must be a finite number >= 0");
        Require(MinRate >= 0 && double.IsFinite(MinRate), nameof(MinRate), MinRate, "must be a finite number >= 0");
    }

    /// <summary>Without validation figures the rate is not reduced: the initial rate.</summary>
    public override double GetRate(double initialRate, long step) => initialRate;

    /// <summary>A scheduler for a run whose task is unknown: fine for loss monitors; a metric monitor needs the task's direction (use the other overload).</summary>
    public override ILearningRateScheduler CreateScheduler(double initialRate)
    {
        Validate();
        return new Scheduler(this, initialRate, Monitor.Source == MonitorSource.ValidationMetric ? null : false);
    }

    /// <inheritdoc />
    public override ILearningRateScheduler CreateScheduler(double initialRate, PredictionKind task)
    {
        Validate();
        return new Scheduler(this, initialRate, Monitor.IsHigherBetter(task));
    }

    /// <summary>
    /// Replays <paramref name="monitored"/> (the figure after epoch 0, 1, …) for a model of <paramref name="task"/>: element i
    /// of the result is the rate used during epoch i; the last element is the rate the epoch after the last figure would use.
    /// </summary>
    public double[] Simulate(double initialRate, IReadOnlyList<double> monitored, PredictionKind task = PredictionKind.MulticlassClassification)
    {
        ArgumentNullException.ThrowIfNull(monitored);
        var scheduler = (Scheduler)CreateScheduler(initialRate, task);
        var rates = new double[monitored.Count + 1];
        for (int e = 0; e < monitored.Count; e++)
        {
            rates[e] = scheduler.RateAt(0, e);
            scheduler.Observe(monitored[e]);
        }
        rates[^1] = scheduler.RateAt(0, monitored.Count);
        return rates;
    }

    private sealed class Scheduler : ILearningRateScheduler
    {
        private readonly ReduceOnPlateau _o;
        private readonly bool? _maximize;
        private double _rate, _best;
        private int _wait, _cooldownCounter;

        public Scheduler(ReduceOnPlateau options, double initialRate, bool? maximize)
        {
            _o = options;
            _maximize = maximize;
            _rate = initialRate;
            _best = maximize == true ? double.NegativeInfinity : double.PositiveInfinity;
        }

        public double RateAt(long globalBatch, int epoch) => _rate;

        public void OnEpochEnd(EpochSummary summary)
        {
            var value = _o.Monitor.Read(summary)
                ?? throw new InvalidOperationException(
                    $"ReduceOnPlateau monitors {_o.Monitor}, but epoch {summary.Epoch} has no such figure. " +
                    "Validation figures need TrainerOptions.ValidationData or ValidationFraction > 0; or set Monitor = Monitored.TrainingLoss.");
            Observe(value);
        }

        public void Observe(double current)
        {
            bool maximize = _maximize ?? throw new InvalidOperationException(
                $"ReduceOnPlateau monitors {_o.Monitor}, whose direction depends on the task: create the scheduler with CreateScheduler(initialRate, task).");
            if (_cooldownCounter > 0)
            {
                _cooldownCounter--;
                _wait = 0;
            }
            bool improved = maximize ? current > _best + _o.MinDelta : current < _best - _o.MinDelta;
            if (improved)
            {
                _best = current;
                _wait = 0;
            }
            else if (_cooldownCounter == 0) // re-read after the decrement, as Keras does: the cooldown's last epoch already counts
            {
                _wait++;
                if (_wait >= _o.Patience && _rate > _o.MinRate)
                {
                    _rate = Math.Max(_rate * _o.Factor, _o.MinRate);
                    _cooldownCounter = _o.Cooldown;
                    _wait = 0;
                }
            }
        }

        public void SaveState(BinaryWriter writer)
        {
            writer.Write(_rate);
            writer.Write(_best);
            writer.Write(_wait);
            writer.Write(_cooldownCounter);
        }

        public void LoadState(BinaryReader reader)
        {
            _rate = reader.ReadDouble();
            _best = reader.ReadDouble();
            _wait = reader.ReadInt32();
            _cooldownCounter = reader.ReadInt32();
        }
    }
}
