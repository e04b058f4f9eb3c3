using MLNetDeep.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using MLNetDeep.Tasks;

namespace MLNetDeep.Regularization;

/// <summary>
/// The training-time half of <see cref="RegularizationOptions"/> for one run: loss terms (label smoothing, class
/// weights), gradient terms (L1, coupled L2), clipping, and post-step constraints (decoupled decay, max-norm).
/// </summary>
internal sealed class Regularizer : IDisposable
{
    private readonly RegularizationOptions _o;
    private readonly PredictionKind _kind;
    private readonly IReadOnlyList<Parameter> _trainable;
    private readonly IReadOnlyList<Parameter> _weights;
    private readonly Tensor? _classWeights;

    public Regularizer(RegularizationOptions? options, PredictionKind kind, IReadOnlyList<Parameter> trainable,
        IReadOnlyList<Parameter> weights, float[] rawLabels, int classCount, Device device)
    {
        _o = options ?? new RegularizationOptions();
        _kind = kind;
        _trainable = trainable;
        _weights = weights;
        if (_o.LabelSmoothing > 0 && kind == PredictionKind.Regression)
            throw new ArgumentException(
                $"Regularization.LabelSmoothing applies to classification only; this is a regression trainer. Received: LabelSmoothing={_o.LabelSmoothing}. Set it to 0.",
                nameof(RegularizationOptions.LabelSmoothing));
        if (_o.HasClassWeights)
        {
            if (kind == PredictionKind.Regression)
                throw new ArgumentException("Regularization.ClassWeights / BalanceClasses apply to classification only; this is a regression trainer. " +
                                            "Use ExampleWeightColumnName for per-row weights.", nameof(RegularizationOptions.ClassWeights));
            int k = kind == PredictionKind.BinaryClassification ? 2 : classCount;
            _classWeights = tensor(ClassWeightsFor(_o, rawLabels, k), device: device);
        }
    }

    /// <summary>Explicit weights (checked against the class count) or "balanced" ones from the label counts.</summary>
    internal static float[] ClassWeightsFor(RegularizationOptions o, float[] rawLabels, int classes)
    {
        if (o.ClassWeights is { } given)
        {
            if (given.Count != classes)
                throw new ArgumentException(
                    $"Regularization.ClassWeights has {given.Count} entries but the label has {classes} classes (in key order{(classes == 2 ? "; binary: [negative, positive]" : "")}). " +
                    $"Received: ClassWeights=[{string.Join(", ", given)}]", nameof(RegularizationOptions.ClassWeights));
            return given.Select(w => (float)w).ToArray();
        }
        var counts = new long[classes];
        foreach (var l in rawLabels) counts[classes == 2 && l > 0 ? 1 : (int)l]++;
        // n / (k · count); a class absent from the training data gets weight 0 (it never occurs anyway).
        return counts.Select(c => c == 0 ? 0f : (float)(rawLabels.Length / (double)(classes * c))).ToArray();
    }

    /// <summary>Per-example training loss with label smoothing, or null to use the task's plain loss.</summary>
    public Tensor? SmoothedLoss(Tensor output, Tensor labels)
    {
        double eps = _o.LabelSmoothing;
        if (eps <= 0) return null;
        return _kind switch
        {
            PredictionKind.MulticlassClassification => F.cross_entropy(output, labels, reduction: nn.Reduction.None, label_smoothing: eps),
            PredictionKind.BinaryClassification => F.binary_cross_entropy_with_logits(output.squeeze(1), labels * (1 - eps) + eps / 2, reduction: nn.Reduction.None),
            _ => null,
        };
    }

    /// <summary>Example weights multiplied by class weights (null when neither is set).</summary>
    public Tensor? CombineWeights(Tensor labels, Tensor? exampleWeights)
    {
        if (_classWeights is null) return exampleWeights;
        var idx = _kind == PredictionKind.BinaryClassification ? labels.gt(0).to(ScalarType.Int64) : labels;
        var w = _classWeights.index_select(0, idx);
        return exampleWeights is null ? w : w * exampleWeights;
    }

    /// <summary>Adds λ1·sign(w) and λ2·w to the weights' gradients.</summary>
    public void AddPenaltyGradients()
    {
        if (_o.L1 <= 0 && _o.L2 <= 0) return;
        using var _ = no_grad();
        foreach (var w in _weights)
        {
            if (w.grad is not Tensor g) continue;
            if (_o.L2 > 0) g.add_(w, alpha: _o.L2);
            if (_o.L1 > 0) { using var s = w.sign(); g.add_(s, alpha: _o.L1); }
        }
    }

    /// <summary>Clips by value, then by global norm. Returns the global gradient norm before norm clipping (null when not clipping by norm).</summary>
    public double? ClipGradients()
    {
        if (_o.GradientClipValue is double v) nn.utils.clip_grad_value_(_trainable, v);
        if (_o.GradientClipNorm is double n) return nn.utils.clip_grad_norm_(_trainable, n);
        return null;
    }

    /// <summary>Decoupled weight decay with the step's learning rate, then the max-norm constraint.</summary>
    public void AfterStep(double learningRate)
    {
        if (_o.WeightDecay <= 0 && _o.MaxNorm is null) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var w in _weights)
        {
            if (_o.WeightDecay > 0) w.mul_(1 - learningRate * _o.WeightDecay);
            if (_o.MaxNorm is double max) ApplyMaxNorm(w, max);
        }
    }

    /// <summary>Rescales each unit's incoming weights (dim 0 indexes units) to L2 norm ≤ <paramref name="max"/>.</summary>
    internal static void ApplyMaxNorm(Tensor w, double max)
    {
        using var scope = NewDisposeScope();
        var shape = Enumerable.Repeat(1L, (int)w.dim()).ToArray();
        shape[0] = w.shape[0];
        var norms = w.flatten(1).norm(1, keepdim: true).view(shape); // [units, 1, ...]
        var factor = (max / (norms + 1e-7)).clamp_max(1.0);
        w.mul_(factor);
    }

    public void Dispose() => _classWeights?.Dispose();
}
