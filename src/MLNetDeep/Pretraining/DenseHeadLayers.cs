using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Pretraining;

/// <summary>
/// The parts of a network that layer-wise pretraining works on: the dense head's Sequential "head.layers"
/// (dense{i}, [dense{i}_bn], dense{i}_act, [dense{i}_dropout] …, output) and what runs below it ("body", "flatten").
/// </summary>
internal sealed class DenseHeadLayers
{
    private readonly List<nn.Module<Tensor, Tensor>> _below = new();

    public DenseHeadLayers(nn.Module network)
    {
        Network = network;
        var modules = network.named_modules().ToDictionary(m => m.name, m => m.module);
        if (!modules.TryGetValue(Models.ModulePaths.HeadLayers, out var headLayers) || headLayers is not TorchSharp.Modules.Sequential seq)
            throw new NotSupportedException("Pretraining needs a network with a dense head ('head.layers'); this network has none.");
        Children = seq.named_children().Select(c => (c.name, Module: (nn.Module<Tensor, Tensor>)c.module)).ToList();
        Dense = Children.Where(c => c.name.StartsWith("dense") && !c.name.Contains('_')).Select(c => c.name).ToList();
        if (Dense.Count == 0)
            throw new NotSupportedException("Pretraining needs at least one hidden dense layer (DenseHead.HiddenSizes is empty).");
        foreach (var name in new[] { Models.ModulePaths.Body, Models.ModulePaths.Flatten })
            if (modules.TryGetValue(name, out var m) && m is nn.Module<Tensor, Tensor> typed) _below.Add(typed);
        Device = network.parameters().First().device;
    }

    public nn.Module Network { get; }
    /// <summary>The head's modules in call order.</summary>
    public List<(string name, nn.Module<Tensor, Tensor> Module)> Children { get; }
    /// <summary>The hidden dense layers' names ("dense0", …), bottom first.</summary>
    public List<string> Dense { get; }
    public Device Device { get; }

    /// <summary>The full name of a head layer in the network ("head.layers.dense0").</summary>
    public static string FullName(string layer) => "head.layers." + layer;

    /// <summary>The Linear module of a hidden dense layer.</summary>
    public TorchSharp.Modules.Linear Linear(string layer) => (TorchSharp.Modules.Linear)Children.Single(c => c.name == layer).Module;

    /// <summary>
    /// Runs <paramref name="inputs"/> through the network (eval mode, no gradients, dropout skipped) from head module
    /// <paramref name="from"/> up to, not including, <paramref name="to"/>; <paramref name="from"/> = -1 starts below the head
    /// (body and flatten first). The intermediate results are disposed; the caller owns the result (which is
    /// <paramref name="inputs"/> itself when no module runs).
    /// </summary>
    public Tensor Forward(Tensor inputs, int from, int to)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Network.eval();
        var x = inputs;
        if (from < 0)
        {
            x = x.to(Device);
            foreach (var m in _below) x = m.call(x);
            from = 0;
        }
        for (int k = from; k < to; k++)
            if (!Children[k].name.Contains("dropout")) x = Children[k].Module.call(x);
        return ReferenceEquals(x, inputs) ? x : x.MoveToOuterDisposeScope();
    }

    /// <summary>The index in <see cref="Children"/> of a layer.</summary>
    public int IndexOf(string layer) => Children.FindIndex(c => c.name == layer);
}
