using MLNetDeep.Initializers;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Models;

/// <summary>The dense head shared by every family: [dropout] → (Linear → [BN] → act → [dropout])* → Linear(outputs).</summary>
internal sealed class DenseHeadModule : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> layers;

    public DenseHeadModule(long inputSize, DenseHead spec, int outputSize, Initializer? initializer) : base(ModulePaths.Head)
    {
        var seq = nn.Sequential();
        if (spec.InputDropout > 0) seq.append("input_dropout", nn.Dropout(spec.InputDropout));
        long width = inputSize;
        for (int i = 0; i < spec.HiddenSizes.Count; i++)
        {
            var linear = nn.Linear(width, spec.HiddenSizes[i]);
            NetworkInit.InitLayer(linear, initializer, spec.Activation);
            seq.append($"dense{i}", linear);
            bool after = spec.BatchNormPlacement == BatchNormPlacement.AfterActivation;
            if (spec.BatchNorm && !after) seq.append($"dense{i}_bn", nn.BatchNorm1d(spec.HiddenSizes[i]));
            seq.append($"dense{i}_act", spec.Activation.CreateModule());
            if (spec.BatchNorm && after) seq.append($"dense{i}_bn", nn.BatchNorm1d(spec.HiddenSizes[i]));
            if (spec.Dropout > 0) seq.append($"dense{i}_dropout", nn.Dropout(spec.Dropout));
            width = spec.HiddenSizes[i];
        }
        var output = nn.Linear(width, outputSize);
        NetworkInit.InitLayer(output, initializer is null ? new GlorotUniform() : initializer, null);
        seq.append("output", output);
        layers = seq;
        RegisterComponents();
    }

    // x: [B, inputSize] → [B, outputs]
    public override Tensor forward(Tensor x) => layers.call(x);
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
