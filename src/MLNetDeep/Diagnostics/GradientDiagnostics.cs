namespace MLNetDeep.Diagnostics;

/// <summary>
/// Switches on per-layer training diagnostics: gradient norms, weight norms, update/weight ratios and activation
/// statistics, per epoch, with warnings when gradients vanish or explode. The figures land in
/// <c>TrainingHistory.Diagnostics</c>; export them with <see cref="HistoryExport"/>.
/// </summary>
public sealed class DiagnosticsOptions
{
    /// <summary>Measure every N-th training batch (1 = every batch). Larger values cost less. Default 1.</summary>
    public int SampleEveryBatches { get; init; } = 1;
    /// <summary>Also record activation statistics (dead ReLU units, saturated sigmoid/tanh units). Default true.</summary>
    public bool ActivationStatistics { get; init; } = true;
    /// <summary>
    /// Warn of vanishing gradients when the first weight layer's mean gradient norm is below this fraction of the
    /// last (output) layer's. Default 1e-3 (three orders of magnitude).
    /// </summary>
    public double VanishingRatio { get; init; } = 1e-3;
    /// <summary>Warn of exploding gradients when any layer's mean gradient norm exceeds this, or is not finite. Default 1e3.</summary>
    public double ExplodingNorm { get; init; } = 1e3;
    /// <summary>A sigmoid output below this or above 1 minus this (tanh: |y| above 1 minus this) counts as saturated. Default 0.01.</summary>
    public double SaturationMargin { get; init; } = 0.01;

    internal void Validate()
    {
        if (SampleEveryBatches < 1)
            throw new ArgumentOutOfRangeException(nameof(SampleEveryBatches), SampleEveryBatches, $"Diagnostics.SampleEveryBatches must be >= 1. Received: SampleEveryBatches={SampleEveryBatches}");
        if (!(VanishingRatio > 0 && VanishingRatio < 1))
            throw new ArgumentOutOfRangeException(nameof(VanishingRatio), VanishingRatio, $"Diagnostics.VanishingRatio must be in (0, 1). Received: VanishingRatio={VanishingRatio}");
        if (!(ExplodingNorm > 0) || double.IsInfinity(ExplodingNorm))
            throw new ArgumentOutOfRangeException(nameof(ExplodingNorm), ExplodingNorm, $"Diagnostics.ExplodingNorm must be a finite number > 0. Received: ExplodingNorm={ExplodingNorm}");
        if (!(SaturationMargin > 0 && SaturationMargin < 0.5))
            throw new ArgumentOutOfRangeException(nameof(SaturationMargin), SaturationMargin, $"Diagnostics.SaturationMargin must be in (0, 0.5). Received: SaturationMargin={SaturationMargin}");
    }
}

/// <summary>One epoch of diagnostics.</summary>
public sealed class EpochDiagnostics
{
    /// <summary>1-based epoch.</summary>
    public int Epoch { get; init; }
    /// <summary>Weight layers in forward order (Linear and convolution weights).</summary>
    public List<LayerStatistics> Layers { get; init; } = new();
    /// <summary>Activation layers in forward order (ReLU, sigmoid, tanh).</summary>
    public List<ActivationStatistics> Activations { get; init; } = new();
    /// <summary>Vanishing / exploding gradient warnings raised this epoch.</summary>
    public List<string> Warnings { get; init; } = new();
}

/// <summary>Gradient and weight figures of one weight tensor over one epoch.</summary>
public sealed class LayerStatistics
{
    /// <summary>The parameter's name without ".weight" (e.g. "head.layers.dense0").</summary>
    public string Layer { get; init; } = "";
    /// <summary>Mean over sampled steps of the gradient's L2 (Frobenius) norm, before clipping and penalties.</summary>
    public double GradientNorm { get; init; }
    /// <summary>Largest gradient norm seen on a sampled step.</summary>
    public double MaxGradientNorm { get; init; }
    /// <summary>L2 norm of the weights at the end of the epoch.</summary>
    public double WeightNorm { get; init; }
    /// <summary>Mean over sampled steps of ‖Δw‖ / ‖w‖ for one optimizer step (healthy training: around 1e-3).</summary>
    public double UpdateRatio { get; init; }
}

/// <summary>Activation figures of one activation layer over one epoch (training-mode forward passes).</summary>
public sealed class ActivationStatistics
{
    /// <summary>The module's name (e.g. "head.layers.dense0_act").</summary>
    public string Layer { get; init; } = "";
    /// <summary>"relu", "sigmoid" or "tanh".</summary>
    public string Kind { get; init; } = "";
    /// <summary>ReLU: mean fraction of units (features, or channels of conv maps) that output 0 for every row of a batch.</summary>
    public double? DeadFraction { get; init; }
    /// <summary>Sigmoid/tanh: mean fraction of outputs in the flat, saturated tails.</summary>
    public double? SaturatedFraction { get; init; }
    /// <summary>Mean output value.</summary>
    public double Mean { get; init; }
    /// <summary>Standard deviation of the outputs.</summary>
    public double Std { get; init; }
}
