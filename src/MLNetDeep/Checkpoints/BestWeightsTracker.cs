using MLNetDeep.Training;
using static TorchSharp.torch;

namespace MLNetDeep.Checkpoints;

/// <summary>
/// Keeps a copy of the weights of the best epoch so far (lowest validation loss, else lowest training loss), so a
/// diverging run can fall back to them.
/// </summary>
internal sealed class BestWeightsTracker : IDisposable
{
    private WeightSnapshot? _snapshot;
    private double _best = double.PositiveInfinity;

    public int? BestEpoch { get; private set; }

    public void Offer(nn.Module network, EpochSummary summary)
    {
        double value = summary.ValidationLoss ?? summary.TrainLoss;
        if (!(value < _best)) return;
        _best = value;
        BestEpoch = summary.Epoch;
        _snapshot?.Dispose();
        _snapshot = WeightSnapshot.Capture(network);
    }

    /// <summary>Restores the best epoch's weights; returns that epoch (null when no epoch finished).</summary>
    public int? Restore(nn.Module network)
    {
        if (_snapshot is null) return null;
        _snapshot.Restore(network);
        return BestEpoch;
    }

    /// <summary>For checkpoints: the best value so far and the snapshot.</summary>
    internal (double Best, WeightSnapshot? Snapshot) State => (_best, _snapshot);

    /// <summary>Restores the state saved in a checkpoint (takes ownership of the snapshot).</summary>
    internal void SetState(double best, int? bestEpoch, WeightSnapshot? snapshot)
    {
        _snapshot?.Dispose();
        (_best, BestEpoch, _snapshot) = (best, bestEpoch, snapshot);
    }

    public void Dispose() => _snapshot?.Dispose();
}
