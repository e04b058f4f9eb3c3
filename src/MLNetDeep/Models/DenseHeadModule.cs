using MLNetDeep.Initializers;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Models;

/// <summary>
/// The dense stack shared by every family (their dense head, and the whole MLP): [dropout] → (Linear → [BN] → act → [dropout],
/// [+ the layer's input])* → Linear(outputs). The modules sit in one Sequential "layers" (dense{i}, dense{i}_bn, dense{i}_act,
/// dense{i}_dropout, …, output) whatever the skips, so pretraining, transfer and diagnostics find them by name.
/// </summary>
internal sealed class DenseHeadModule : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> layers;
    // Per child of "layers": keep its input for a skip (the first module of a hidden layer with one), and add the kept
    // input to its output (the last module of that layer). Empty without skips: then "layers" runs as one Sequential.
    private readonly bool[] keepInput;
    private readonly bool[] addKept;

    public DenseHeadModule(long inputSize, DenseHead spec, int outputSize, Initializer? initializer) : base(ModulePaths.Head)
    {
        var seq = nn.Sequential();
        if (spec.InputDropout > 0) seq.append("input_dropout", nn.Dropout(spec.InputDropout));
        long width = inputSize;
        var keep = new List<int>();
        var add = new List<int>();
        for (int i = 0; i < spec.HiddenSizes.Count; i++)
        {
            if (spec.HasSkip(i)) keep.Add(seq.Count);
            var linear = nn.Linear(width, spec.HiddenSizes[i]);
            NetworkInit.InitLayer(linear, initializer, spec.Activation);
            seq.append($"dense{i}", linear);
            bool after = spec.BatchNormPlacement == BatchNormPlacement.AfterActivation;
            if (spec.BatchNorm && !after) seq.append($"dense{i}_bn", nn.BatchNorm1d(spec.HiddenSizes[i]));
            seq.append($"dense{i}_act", spec.Activation.CreateModule());
            if (spec.BatchNorm && after) seq.append($"dense{i}_bn", nn.BatchNorm1d(spec.HiddenSizes[i]));
            if (spec.Dropout > 0) seq.append($"dense{i}_dropout", nn.Dropout(spec.Dropout));
            if (spec.HasSkip(i)) add.Add(seq.Count - 1);
            width = spec.HiddenSizes[i];
        }
        var output = nn.Linear(width, outputSize);
        NetworkInit.InitLayer(output, initializer is null ? new GlorotUniform() : initializer, null);
        seq.append("output", output);
        layers = seq;
        bool skips = keep.Count > 0;
        keepInput = new bool[skips ? seq.Count : 0];
        addKept = new bool[skips ? seq.Count : 0];
        foreach (var k in keep) keepInput[k] = true;
        foreach (var a in add) addKept[a] = true;
        RegisterComponents();
    }

    /// <summary>True when some hidden layer has a skip connection.</summary>
    public bool HasSkips => keepInput.Length > 0;

    // x: [B, inputSize] → [B, outputs]
    public override Tensor forward(Tensor x)
    {
        if (!HasSkips) return layers.call(x);
        using var scope = NewDisposeScope();
        Tensor kept = x;
        int k = 0;
        foreach (var child in layers.children())
        {
            if (keepInput[k]) kept = x;                                     // [B, width]
            x = ((nn.Module<Tensor, Tensor>)child).call(x);
            if (addKept[k]) x = x + kept;                                   // [B, width]: the skip
            k++;
        }
        return x.MoveToOuterDisposeScope();                                 // [B, outputs]
    }
}

/// <summary>Weight initialisation of one Linear/Conv layer.</summary>
internal static class NetworkInit
{
    /// <summary>Weight by the initializer (or one suited to the activation that follows), bias to zero.</summary>
    public static void InitLayer(nn.Module layer, Initializer? initializer, Activations.Activation? followedBy)
    {
        var init = initializer ?? Initializer.ForActivation(followedBy);
        using var _ = no_grad();
        foreach (var (name, p) in layer.named_parameters(recurse: false))
        {
            if (name == "weight") init.Initialize(p);
            else if (name == "bias") p.zero_();
        }
    }
}
