using static TorchSharp.torch;

namespace MLNetDeep.Checkpoints;

/// <summary>
/// An in-memory copy of a network's parameters and buffers (batch-norm running statistics included), used to
/// restore the best epoch's weights. Copies live on the network's device; dispose to free them.
/// </summary>
internal sealed class WeightSnapshot : IDisposable
{
    private readonly Dictionary<string, Tensor> _state;

    private WeightSnapshot(Dictionary<string, Tensor> state) => _state = state;

    /// <summary>Copies every entry of <paramref name="network"/>'s state dict.</summary>
    public static WeightSnapshot Capture(nn.Module network)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope(); // the detached views are temporary; the clones are kept
        var state = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());
        return new WeightSnapshot(state);
    }

    /// <summary>Writes the copied values back into <paramref name="network"/> in place (same architecture).</summary>
    public void Restore(nn.Module network)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, target) in network.state_dict())
            if (_state.TryGetValue(name, out var saved)) target.copy_(saved);
    }

    public void Dispose()
    {
        foreach (var t in _state.Values) t.Dispose();
        _state.Clear();
    }
}
