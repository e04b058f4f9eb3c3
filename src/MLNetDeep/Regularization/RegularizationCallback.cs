using MLNetDeep.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.Regularization;

/// <summary>
/// The training-step half of <see cref="RegularizationOptions"/>, as a component of the loop: gradient terms (L1,
/// coupled L2) and clipping just before the optimizer step, then post-step constraints (decoupled decay, max-norm).
/// Label smoothing and class weights are part of the task's loss (<c>Tasks/TaskLoss</c>).
/// </summary>
internal sealed class RegularizationCallback : TrainingCallback
{
    private readonly RegularizationOptions _o;
    private IReadOnlyList<Parameter> _trainable = Array.Empty<Parameter>();
    private IReadOnlyList<Parameter> _weights = Array.Empty<Parameter>();

    public RegularizationCallback(RegularizationOptions? options) => _o = options ?? new RegularizationOptions();

    public override void OnTrainBegin(TrainingContext context)
    {
        _trainable = context.Parameters;
        _weights = context.Weights;
    }

    /// <summary>L1/L2 gradient terms, then clipping by value and by global norm (the norm before clipping goes to the context).</summary>
    public override void OnBeforeStep(TrainingContext context)
    {
        AddPenaltyGradients();
        if (_o.GradientClipValue is double v) nn.utils.clip_grad_value_(_trainable, v);
        context.GradientNorm = _o.GradientClipNorm is double n ? nn.utils.clip_grad_norm_(_trainable, n) : null;
    }

    /// <summary>Decoupled weight decay with the step's learning rate, then the max-norm constraint.</summary>
    public override void OnAfterStep(TrainingContext context)
    {
        if (_o.WeightDecay <= 0 && _o.MaxNorm is null) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var w in _weights)
        {
            if (_o.WeightDecay > 0) w.mul_(1 - context.LearningRate * _o.WeightDecay);
            if (_o.MaxNorm is double max) ApplyMaxNorm(w, max);
        }
    }

    /// <summary>
    /// The L1 and L2 penalties as a loss term (λ1·‖w‖₁ + λ2/2·‖w‖²), for steps that re-evaluate the loss (L-BFGS's line
    /// search compares losses, so the penalty must be in the value as well as in the gradient); null when both are off.
    /// </summary>
    public Tensor? PenaltyLoss()
    {
        if (_o.L1 <= 0 && _o.L2 <= 0) return null;
        Tensor? total = null;
        foreach (var w in _weights)
        {
            var term = _o.L2 > 0 ? w.pow(2).sum() * (_o.L2 / 2) : null;
            if (_o.L1 > 0) term = term is null ? w.abs().sum() * _o.L1 : term + w.abs().sum() * _o.L1;
            total = total is null ? term : total + term!;
        }
        return total;
    }

    /// <summary>Adds λ1·sign(w) and λ2·w to the weights' gradients.</summary>
    private void AddPenaltyGradients()
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
}
