using System.Text.Json.Serialization;

namespace MLNetDeep.Schedules;

/// <summary>
/// A user-defined schedule: <see cref="Function"/>(step, epoch, initialRate) → rate, where step is the global batch
/// index and epoch the epoch index (both 0-based) and initialRate the optimizer's <c>LearningRate</c>.
/// </summary>
/// <remarks>
/// A function is code, so it cannot be saved as JSON: a saved CustomSchedule keeps only its <see cref="Description"/>,
/// and one read back from JSON throws when asked for a rate until <see cref="Function"/> is set again.
/// <see cref="LearningRateSchedule.Preview(double, int, int)"/> gives the exact per-batch sequence; the
/// one-argument Preview passes epoch 0 for <see cref="ScheduleUnit.Batch"/> (and batch 0 for <see cref="ScheduleUnit.Epoch"/>).
/// </remarks>
/// <example><c>new CustomSchedule((step, epoch, lr0) =&gt; lr0 * Math.Pow(0.5, epoch / 10), "halve every 10 epochs")</c></example>
public sealed class CustomSchedule : LearningRateSchedule
{
    /// <summary>For JSON; set <see cref="Function"/> before use.</summary>
    public CustomSchedule() { }

    /// <summary>Creates a schedule from a function of (global batch, epoch, initial rate).</summary>
    public CustomSchedule(Func<long, int, double, double> function, string? description = null)
    {
        Function = function ?? throw new ArgumentNullException(nameof(function));
        Description = description ?? "custom";
    }

    /// <summary>(global batch, epoch, initial rate) → rate. Not saved with the options.</summary>
    [JsonIgnore]
    public Func<long, int, double, double>? Function { get; init; }

    /// <summary>What the function does, in words; this is what is saved.</summary>
    public string Description { get; init; } = "custom";

    /// <inheritdoc />
    public override void Validate()
    {
        if (Function is null)
            throw new InvalidOperationException(
                $"CustomSchedule '{Description}' has no Function. A function is code and cannot be saved as JSON, so a CustomSchedule read back " +
                "from saved options keeps only its Description: create it again with new CustomSchedule((step, epoch, initialRate) => ...).");
    }

    /// <inheritdoc />
    public override double GetRate(double initialRate, long step) =>
        Unit == ScheduleUnit.Batch ? RateAt(initialRate, step, 0) : RateAt(initialRate, 0, checked((int)step));

    /// <inheritdoc />
    public override double RateAt(double initialRate, long globalBatch, int epoch)
    {
        Validate();
        double rate = Function!(globalBatch, epoch, initialRate);
        if (!(rate >= 0) || double.IsInfinity(rate))
            throw new InvalidOperationException(
                $"CustomSchedule '{Description}' returned {rate} for step {globalBatch}, epoch {epoch} (initial rate {initialRate}); a rate must be a finite number >= 0.");
        return rate;
    }

    /// <inheritdoc />
    public override string ToString() => $"custom({Description})";
}
