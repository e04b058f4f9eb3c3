using MLNetDeep.Training;

namespace MLNetDeep.Schedules;

/// <summary>Whether a monitored figure should fall or rise.</summary>
public enum PlateauMode
{
    /// <summary>Max for names containing "acc", "auc", "precision", "recall" or "f1"; min otherwise (Keras' rule, extended to our metric names).</summary>
    Auto,
    /// <summary>Lower is better (losses, errors).</summary>
    Min,
    /// <summary>Higher is better (accuracy).</summary>
    Max,
}

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
/// Monitor names: "val_loss", "loss" (training loss) or "val_" + a validation metric ("val_accuracy", "val_rmse", "val_mae").
/// </remarks>
public sealed class ReduceOnPlateau : LearningRateSchedule
{
    /// <summary>Figure to watch. Default "val_loss" (needs validation data or a ValidationFraction).</summary>
    public string Monitor { get; init; } = "val_loss";
    /// <summary>Rate multiplier on a plateau, in (0, 1). Default 0.1.</summary>
    public double Factor { get; init; } = 0.1;
    /// <summary>Epochs without improvement before the rate is reduced. Default 10.</summary>
    public int Patience { get; init; } = 10;
    /// <summary>Min, Max, or Auto from the monitor's name.</summary>
    public PlateauMode Mode { get; init; } = PlateauMode.Auto;
    /// <summary>Smallest change that counts as an improvement. Default 1e-4.</summary>
    public double MinDelta { get; init; } = 1e-4;
    /// <summary>Epochs after a reduction during which no further reduction happens. Default 0.</summary>
    public int Cooldown { get; init; }
    /// <summary>The rate never goes below this. Default 0.</summary>
    public double MinRate { get; init; }

    /// <summary>True when higher values of the monitored figure are better.</summary>
    public bool MaximizesMonitor => Mode switch
    {
        PlateauMode.Max => true,
        PlateauMode.Min => false,
        _ => new[] { "acc", "auc", "precision", "recall", "f1" }.Any(k => Monitor.Contains(k, StringComparison.OrdinalIgnoreCase)),
    };

    /// <inheritdoc />
    public override void Validate()
    {
        if (string.IsNullOrWhiteSpace(Monitor))
            throw new ArgumentException("ReduceOnPlateau.Monitor must name a figure: \"val_loss\", \"loss\" or \"val_<metric>\" (e.g. \"val_accuracy\"). Received: an empty name.", nameof(Monitor));
        Require(Factor > 0 && Factor < 1, nameof(Factor), Factor, "must be in (0, 1): it multiplies the rate on a plateau (1.0 or more would not reduce it)");
        Require(Patience >= 0, nameof(Patience), Patience, "must be >= 0");
        Require(Cooldown >= 0, nameof(Cooldown), Cooldown, "must be >= 0");
        Require(MinDelta >= 0 && double.IsFinite(MinDelta), nameof(MinDelta), MinDelta, "must be a finite number >= 0");
        Require(MinRate >= 0 && double.IsFinite(MinRate), nameof(MinRate), MinRate, "must be a finite number >= 0");
    }

    /// <summary>Without validation figures the rate is not reduced: the initial rate.</summary>
    public override double GetRate(double initialRate, long step) => initialRate;

    /// <inheritdoc />
    public override ILearningRateScheduler CreateScheduler(double initialRate)
    {
        Validate();
        return new Scheduler(this, initialRate);
    }

    /// <summary>
    /// Replays <paramref name="monitored"/> (the figure after epoch 0, 1, …): element i of the result is the rate used
    /// during epoch i; the last element is the rate the epoch after the last figure would use.
    /// </summary>
    public double[] Simulate(double initialRate, IReadOnlyList<double> monitored)
    {
        ArgumentNullException.ThrowIfNull(monitored);
        var scheduler = (Scheduler)CreateScheduler(initialRate);
        var rates = new double[monitored.Count + 1];
        for (int e = 0; e < monitored.Count; e++)
        {
            rates[e] = scheduler.RateAt(0, e);
            scheduler.Observe(monitored[e], e + 1);
        }
        rates[^1] = scheduler.RateAt(0, monitored.Count);
        return rates;
    }

    /// <summary>The monitored figure of a finished epoch, or null when the epoch has none of that name.</summary>
    public static double? Lookup(EpochSummary summary, string monitor)
    {
        ArgumentNullException.ThrowIfNull(summary);
        if (monitor == "loss") return summary.TrainLoss;
        if (monitor == "val_loss") return summary.ValidationLoss;
        if (monitor.StartsWith("val_", StringComparison.Ordinal) && summary.ValidationMetrics.TryGetValue(monitor[4..], out var v)) return v;
        return null;
    }

    private sealed class Scheduler : ILearningRateScheduler
    {
        private readonly ReduceOnPlateau _o;
        private readonly bool _maximize;
        private double _rate, _best;
        private int _wait, _cooldownCounter;

        public Scheduler(ReduceOnPlateau options, double initialRate)
        {
            _o = options;
            _maximize = options.MaximizesMonitor;
            _rate = initialRate;
            _best = _maximize ? double.NegativeInfinity : double.PositiveInfinity;
        }

        public double RateAt(long globalBatch, int epoch) => _rate;

        public void OnEpochEnd(EpochSummary summary)
        {
            var value = Lookup(summary, _o.Monitor);
            if (value is null)
            {
                var available = new List<string> { "loss" };
                if (summary.ValidationLoss is not null) available.Add("val_loss");
                available.AddRange(summary.ValidationMetrics.Keys.Select(k => "val_" + k));
                throw new InvalidOperationException(
                    $"ReduceOnPlateau monitors '{_o.Monitor}', but epoch {summary.Epoch} has no such figure. Available: {string.Join(", ", available)}. " +
                    "Validation figures need TrainerOptions.ValidationData or ValidationFraction > 0; or set Monitor = \"loss\".");
            }
            Observe(value.Value, summary.Epoch);
        }

        public void Observe(double current, int epoch)
        {
            if (_cooldownCounter > 0)
            {
                _cooldownCounter--;
                _wait = 0;
            }
            bool improved = _maximize ? current > _best + _o.MinDelta : current < _best - _o.MinDelta;
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
    }
}
