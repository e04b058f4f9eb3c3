using TorchSharp;
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

    /// <summary>Writes the copies (names and tensors) for a checkpoint.</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(_state.Count);
        foreach (var (name, t) in _state)
        {
            writer.Write(name);
            t.Save(writer);
        }
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    public static WeightSnapshot Load(BinaryReader reader)
    {
        int n = reader.ReadInt32();
        var state = new Dictionary<string, Tensor>(n);
        for (int i = 0; i < n; i++)
        {
            var name = reader.ReadString();
            state[name] = TorchSharp.TensorExtensionMethods.Load(reader).DetachFromDisposeScope();
        }
        return new WeightSnapshot(state);
    }

    public void Dispose()
    {
        foreach (var t in _state.Values) t.Dispose();
        _state.Clear();
    }
}
