using MLNetDeep.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.Transfer;

/// <summary>The engine side of <see cref="TransferOptions"/>: copying weights, freezing, parameter groups.</summary>
internal static class TransferLearning
{
    /// <summary>The dense head's output layer (every family shares <c>DenseHeadModule</c>).</summary>
    public const string OutputLayer = Models.ModulePaths.OutputLayer;

    /// <summary>Copies every state entry (parameters and buffers) except those under the <paramref name="skipPrefixes"/>; shapes must match.</summary>
    public static void CopyAllBut(nn.Module source, nn.Module target, IReadOnlyList<string> skipPrefixes)
    {
        using var _ = no_grad();
        var from = source.state_dict();
        var to = target.state_dict();
        foreach (var (name, t) in to)
        {
            if (skipPrefixes.Any(p => TransferOptions.Matches(name, p))) continue;
            if (!from.TryGetValue(name, out var s))
                throw new ArgumentException($"the saved model has no '{name}'.");
            if (!s.shape.SequenceEqual(t.shape))
                throw new ArgumentException($"'{name}' has shape [{string.Join(", ", s.shape)}] in the saved model but [{string.Join(", ", t.shape)}] here.");
            t.copy_(s);
        }
    }

    private static bool Frozen(string name, IReadOnlyList<string> prefixes) => prefixes.Any(p => TransferOptions.Matches(name, p));

    /// <summary>Parameter groups by learning-rate multiplier; frozen parameters get requires_grad = false and no group.</summary>
    public static IReadOnlyList<ParameterGroup> Groups(nn.Module network, TransferOptions options)
    {
        var frozen = options.FrozenPrefixes().ToList();
        var names = network.named_modules().Select(m => m.name).ToHashSet();
        foreach (var f in frozen)
            if (!names.Contains(f))
                throw new ArgumentException(
                    $"Transfer freezes '{f}', but the network has no such module. Modules: {string.Join(", ", names.Where(n => n.Count(c => c == '.') <= 1 && n.Length > 0))}. " +
                    "Lower FreezeBlocks or fix FreezeModules.", nameof(TransferOptions.FreezeModules));
        var byMultiplier = new SortedDictionary<double, List<Parameter>>();
        foreach (var (name, p) in network.named_parameters())
        {
            if (Frozen(name, frozen)) { p.requires_grad = false; continue; }
            if (!p.requires_grad) continue;
            double m = options.MultiplierFor(name);
            if (!byMultiplier.TryGetValue(m, out var list)) byMultiplier[m] = list = new List<Parameter>();
            list.Add(p);
        }
        return byMultiplier.Select(kv => new ParameterGroup($"lr x{kv.Key:G3}", kv.Value, kv.Key)).ToList();
    }

    /// <summary>Frozen modules stay in eval mode during training (batch-norm statistics and dropout frozen too).</summary>
    public static void FrozenToEval(nn.Module network, TransferOptions options)
    {
        var frozen = options.FrozenPrefixes().ToList();
        if (frozen.Count == 0) return;
        foreach (var (name, module) in network.named_modules())
            if (Frozen(name, frozen)) module.eval();
    }
}
