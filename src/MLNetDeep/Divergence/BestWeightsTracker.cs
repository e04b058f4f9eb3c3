using MLNetDeep.Checkpoints;
using MLNetDeep.Training;
using static TorchSharp.torch;

namespace MLNetDeep.Divergence;

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

    /// <summary>Writes the best value, its epoch and the snapshot (for checkpoints).</summary>
    public void SaveState(BinaryWriter writer)
    {
        writer.Write(_best);
        writer.Write(BestEpoch ?? 0);
        writer.Write(_snapshot is not null);
        _snapshot?.Save(writer);
    }

    /// <summary>Reads back what <see cref="SaveState"/> wrote.</summary>
    public void LoadState(BinaryReader reader)
    {
        _best = reader.ReadDouble();
        int epoch = reader.ReadInt32();
        BestEpoch = epoch == 0 ? null : epoch;
        _snapshot?.Dispose();
        _snapshot = reader.ReadBoolean() ? WeightSnapshot.Load(reader) : null;
    }

    public void Dispose() => _snapshot?.Dispose();
}
