using MLNetDeep.Checkpoints;
using MLNetDeep.Training;
using static TorchSharp.torch;

namespace MLNetDeep.EarlyStopping;

/// <summary>Whether the monitored quantity should go down or up.</summary>
public enum MonitorMode
{
    /// <summary>Max for accuracy-like names ("accuracy", "auc", "f1"), min otherwise (losses, rmse, mae).</summary>
    Auto,
    /// <summary>Lower is better.</summary>
    Min,
    /// <summary>Higher is better.</summary>
    Max,
}

/// <summary>
/// Stop training when a monitored loss or metric has stopped improving (Keras' EarlyStopping), and optionally
/// put back the weights of the best epoch. The history records the best epoch, the epoch training stopped at and why.
/// </summary>
public sealed class EarlyStoppingOptions
{
    /// <summary>
    /// What to watch: "val_loss" (default), "loss" (training loss), or "val_" + a validation metric name
    /// ("val_accuracy" for classifiers, "val_rmse" / "val_mae" for regression).
    /// </summary>
    public string Monitor { get; init; } = "val_loss";
    /// <summary>Direction of improvement. Default <see cref="MonitorMode.Auto"/>.</summary>
    public MonitorMode Mode { get; init; } = MonitorMode.Auto;
    /// <summary>Epochs without improvement before stopping. Default 5.</summary>
    public int Patience { get; init; } = 5;
    /// <summary>A change smaller than this does not count as an improvement. Default 0.</summary>
    public double MinDelta { get; init; }
    /// <summary>At the end of training (stopped or not), restore the weights of the best epoch. Default true.</summary>
    public bool RestoreBestWeights { get; init; } = true;

    internal bool Maximise => Mode switch
    {
        MonitorMode.Max => true,
        MonitorMode.Min => false,
        _ => Monitor.Contains("accuracy", StringComparison.OrdinalIgnoreCase) || Monitor.Contains("auc", StringComparison.OrdinalIgnoreCase)
             || Monitor.Contains("f1", StringComparison.OrdinalIgnoreCase),
    };

    internal void Validate(bool hasValidation)
    {
        if (string.IsNullOrWhiteSpace(Monitor))
            throw new ArgumentException("EarlyStopping.Monitor must name a quantity (\"val_loss\", \"loss\", \"val_accuracy\", ...). Received: an empty name.", nameof(Monitor));
        if (Patience < 0)
            throw new ArgumentOutOfRangeException(nameof(Patience), Patience, $"EarlyStopping.Patience must be >= 0. Received: Patience={Patience}");
        if (!(MinDelta >= 0) || double.IsInfinity(MinDelta))
            throw new ArgumentOutOfRangeException(nameof(MinDelta), MinDelta, $"EarlyStopping.MinDelta must be a finite number >= 0. Received: MinDelta={MinDelta}");
        if (!Enum.IsDefined(Mode))
            throw new ArgumentOutOfRangeException(nameof(Mode), Mode, $"EarlyStopping.Mode is not a known mode. Received: Mode={Mode}");
        if (Monitor.StartsWith("val_", StringComparison.Ordinal) && !hasValidation)
            throw new ArgumentException(
                $"EarlyStopping.Monitor=\"{Monitor}\" needs validation data, and this run has none. " +
                "Set ValidationData or ValidationFraction (e.g. 0.1), or monitor \"loss\".", nameof(Monitor));
    }
}

/// <summary>The per-run state of early stopping (the options object is never changed).</summary>
internal sealed class EarlyStoppingMonitor : IDisposable
{
    private readonly EarlyStoppingOptions _o;
    private readonly bool _max;
    private int _wait;
    private WeightSnapshot? _best;

    public EarlyStoppingMonitor(EarlyStoppingOptions options)
    {
        _o = options;
        _max = options.Maximise;
    }

    public double? BestValue { get; private set; }
    public int? BestEpoch { get; private set; }

    /// <summary>The monitored value of an epoch; throws naming the available quantities when it is unknown.</summary>
    internal static double Read(EpochSummary s, string monitor)
    {
        if (monitor == "loss") return s.TrainLoss;
        if (monitor == "val_loss" && s.ValidationLoss is double vl) return vl;
        if (monitor.StartsWith("val_", StringComparison.Ordinal) && s.ValidationMetrics.TryGetValue(monitor[4..], out var m)) return m;
        var known = new List<string> { "loss" };
        if (s.ValidationLoss is not null) known.Add("val_loss");
        known.AddRange(s.ValidationMetrics.Keys.Select(k => "val_" + k));
        throw new ArgumentException($"EarlyStopping.Monitor=\"{monitor}\" is not reported by this trainer. Available: {string.Join(", ", known.Select(k => $"\"{k}\""))}.",
            nameof(EarlyStoppingOptions.Monitor));
    }

    /// <summary>Updates the state after an epoch; returns a stop reason when patience has run out.</summary>
    public string? OnEpochEnd(nn.Module network, EpochSummary summary)
    {
        double value = Read(summary, _o.Monitor);
        bool improved = BestValue is not double best
            || (_max ? value > best + _o.MinDelta : value < best - _o.MinDelta);
        if (improved && double.IsFinite(value))
        {
            BestValue = value;
            BestEpoch = summary.Epoch;
            _wait = 0;
            if (_o.RestoreBestWeights)
            {
                _best?.Dispose();
                _best = WeightSnapshot.Capture(network);
            }
            return null;
        }
        _wait++;
        if (_wait < Math.Max(1, _o.Patience)) return null; // as Keras: stop after Patience epochs without improvement
        return $"early stopping after epoch {summary.Epoch}: {_o.Monitor} did not improve by more than {_o.MinDelta:G3} for {_o.Patience} epoch(s); " +
               $"best epoch {BestEpoch} ({_o.Monitor} {BestValue:G5})";
    }

    /// <summary>Puts back the best epoch's weights; returns that epoch (null when nothing was restored).</summary>
    public int? RestoreBest(nn.Module network)
    {
        if (!_o.RestoreBestWeights || _best is null) return null;
        _best.Restore(network);
        return BestEpoch;
    }

    /// <summary>For checkpoints: the counters and the best snapshot.</summary>
    internal (double? BestValue, int? BestEpoch, int Wait, WeightSnapshot? Snapshot) State => (BestValue, BestEpoch, _wait, _best);

    /// <summary>Restores the state saved in a checkpoint (takes ownership of the snapshot).</summary>
    internal void SetState(double? bestValue, int? bestEpoch, int wait, WeightSnapshot? snapshot)
    {
        _best?.Dispose();
        (BestValue, BestEpoch, _wait, _best) = (bestValue, bestEpoch, wait, snapshot);
    }

    public void Dispose() => _best?.Dispose();
}
