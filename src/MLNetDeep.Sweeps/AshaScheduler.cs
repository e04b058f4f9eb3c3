namespace MLNetDeep.Sweeps;

/// <summary>Decides, after each epoch of a trial, whether to stop it early (multi-fidelity scheduling).</summary>
public interface ITrialScheduler
{
    /// <summary>True when the scheduler needs every trial's history to decide at this epoch (saves storage reads otherwise).</summary>
    bool DecidesAt(int epoch, int? maxEpochs);

    /// <summary>
    /// A reason to stop <paramref name="trial"/> after <paramref name="epoch"/> (its metric <paramref name="value"/>), or null to go on.
    /// <paramref name="others"/> holds every other trial of the sweep with the metrics they reported per epoch.
    /// </summary>
    string? ShouldStop(int trial, int epoch, double value, IReadOnlyList<TrialRecord> others, OptimizationDirection direction);
}

/// <summary>
/// Asynchronous successive halving (ASHA; Li et al., 2020), stopping-based as in Optuna: rungs at
/// <see cref="MinEpochs"/>·η^k epochs; a trial that reaches a rung goes on only if its validation metric is
/// in the top 1/η of every metric recorded at that rung so far (its own included); the first trials at a
/// rung go on only if they are the best there. Rungs at or beyond the trial's last epoch are skipped, so a
/// trial that reaches its full budget is never called stopped. Works across workers: it reads the rung
/// values from the storage.
/// </summary>
public sealed class AshaScheduler : ITrialScheduler
{
    /// <summary>Epochs before the first decision (the first rung). Default 1.</summary>
    public int MinEpochs { get; init; } = 1;
    /// <summary>η: the top 1/η go on at each rung. Default 3.</summary>
    public int ReductionFactor { get; init; } = 3;

    /// <summary>Is <paramref name="epoch"/> a rung?</summary>
    public bool IsRung(int epoch)
    {
        Validate();
        for (long r = MinEpochs; r <= epoch; r *= ReductionFactor) if (r == epoch) return true;
        return false;
    }

    /// <inheritdoc />
    public bool DecidesAt(int epoch, int? maxEpochs) => IsRung(epoch) && (maxEpochs is null || epoch < maxEpochs);

    /// <inheritdoc />
    public string? ShouldStop(int trial, int epoch, double value, IReadOnlyList<TrialRecord> others, OptimizationDirection direction)
    {
        if (!IsRung(epoch)) return null;
        var competing = others.Where(t => t.Number != trial && t.Intermediate.TryGetValue(epoch, out var v) && double.IsFinite(v))
            .Select(t => t.Intermediate[epoch]).Append(value).OrderBy(v => v).ToList();
        if (!double.IsFinite(value)) return $"ASHA: metric {value} at epoch {epoch}";
        int idx = Math.Max(competing.Count / ReductionFactor - 1, 0);
        bool promote = direction == OptimizationDirection.Maximize
            ? value >= competing[competing.Count - 1 - idx]
            : value <= competing[idx];
        return promote ? null
            : $"ASHA: not in the top 1/{ReductionFactor} of {competing.Count} trials at epoch {epoch}";
    }

    private void Validate()
    {
        if (MinEpochs < 1) throw new ArgumentOutOfRangeException(nameof(MinEpochs), MinEpochs, $"AshaScheduler.MinEpochs must be >= 1. Received: {MinEpochs}");
        if (ReductionFactor < 2) throw new ArgumentOutOfRangeException(nameof(ReductionFactor), ReductionFactor, $"AshaScheduler.ReductionFactor must be >= 2 (η; 3 is usual). Received: {ReductionFactor}");
    }
}
