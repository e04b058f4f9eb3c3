using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetDeep.Optimizers;

/// <summary>
/// FTRL-Proximal, "Follow The Regularized Leader" (McMahan et al., 2013, Algorithm 1), with Keras'
/// extensions: a learning-rate power, online and shrinkage L2, and β. TorchSharp has no FTRL; this one
/// runs on torch tensor operations. Defaults as Keras: lr 0.001, power −0.5, initial accumulator 0.1,
/// L1 = L2 = shrinkage L2 = β = 0.
/// </summary>
/// <remarks>
/// <para>Per coordinate, with n the accumulator (starting at <see cref="InitialAccumulatorValue"/>), z the
/// "linear" accumulator (starting at 0), p = −<see cref="LearningRatePower"/>, α the current rate:</para>
/// <code>
/// g̃ = g + 2·l2Shrinkage·w
/// n' = n + g²
/// z ← z + g̃ − (n'ᵖ − nᵖ)/α · w
/// q = n'ᵖ/α + 2·(l2 + β/(2α))
/// w ← (clip(z, −l1, l1) − z) / q      (0 when |z| ≤ l1, else −(z − sign(z)·l1)/q)
/// n ← n'
/// </code>
/// <para>FTRL suits shallow (linear) models on large sparse inputs, where L1 makes exact zeros. It computes
/// the weights from z and n alone, so its first step largely replaces a network's random initialisation;
/// deep networks train better with the Adam family.</para>
/// </remarks>
public sealed class Ftrl : Optimizer
{
    /// <summary>How the per-coordinate rate falls with the accumulated squared gradients: rate = α / nᵖ with p = −power. Must be ≤ 0; 0 = fixed rate. Default −0.5.</summary>
    public double LearningRatePower { get; init; } = -0.5;
    /// <summary>Starting value of the squared-gradient accumulators (≥ 0). Default 0.1.</summary>
    public double InitialAccumulatorValue { get; init; } = 0.1;
    /// <summary>L1 regularisation strength (≥ 0); weights whose |z| stays below it are exactly 0. Default 0.</summary>
    public double L1 { get; init; }
    /// <summary>Online ("stabilisation") L2 strength (≥ 0), the paper's λ2 / 2. Default 0.</summary>
    public double L2 { get; init; }
    /// <summary>Shrinkage L2 strength (≥ 0): adds l2Shrinkage·‖w‖² to the loss, i.e. 2·l2Shrinkage·w to the gradient (not to the accumulator). Default 0.</summary>
    public double L2Shrinkage { get; init; }
    /// <summary>The paper's β: smooths the per-coordinate rate at the start, rate = α/(β + nᵖ). Default 0.</summary>
    public double Beta { get; init; }

    /// <inheritdoc />
    public override string Name => "ftrl";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(LearningRatePower <= 0, nameof(LearningRatePower), LearningRatePower, "must be <= 0 (0 = fixed rate, -0.5 = the paper's 1/sqrt(n))");
        Require(InitialAccumulatorValue >= 0 && !double.IsInfinity(InitialAccumulatorValue), nameof(InitialAccumulatorValue), InitialAccumulatorValue, "must be a finite number >= 0");
        Require(L1 >= 0 && !double.IsInfinity(L1), nameof(L1), L1, "must be a finite number >= 0");
        Require(L2 >= 0 && !double.IsInfinity(L2), nameof(L2), L2, "must be a finite number >= 0");
        Require(L2Shrinkage >= 0 && !double.IsInfinity(L2Shrinkage), nameof(L2Shrinkage), L2Shrinkage, "must be a finite number >= 0");
        Require(Beta >= 0 && !double.IsInfinity(Beta), nameof(Beta), Beta, "must be a finite number >= 0");
    }

    /// <inheritdoc />
    public override IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups)
    {
        Validate();
        return new FtrlUpdater(this, groups);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}(lr={LearningRate:G4}, l1={L1:G3}, l2={L2:G3})";
}

/// <summary>FTRL's per-run state: an accumulator and a linear term per parameter, updated under no_grad.</summary>
internal sealed class FtrlUpdater : IParameterUpdater
{
    private readonly Ftrl _options;
    private readonly List<(Parameter Param, Tensor Accumulator, Tensor Linear, double Multiplier)> _slots = new();
    private double _rate;

    public FtrlUpdater(Ftrl options, IReadOnlyList<ParameterGroup> groups)
    {
        _options = options;
        _rate = options.LearningRate;
        using var _ = no_grad();
        foreach (var group in groups)
            foreach (var p in group.Parameters)
            {
                // State lives for the whole run: keep it out of any dispose scope the caller has open.
                var accumulator = full_like(p, options.InitialAccumulatorValue).DetachFromDisposeScope();
                var linear = zeros_like(p).DetachFromDisposeScope();
                _slots.Add((p, accumulator, linear, group.LearningRateMultiplier));
            }
    }

    public void ZeroGrad()
    {
        foreach (var slot in _slots)
        {
            using var grad = slot.Param.grad;
            grad?.zero_();
        }
    }

    public void Step()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        double power = -_options.LearningRatePower;
        foreach (var (w, n, z, multiplier) in _slots)
        {
            var g = w.grad;
            if (g is null) continue;
            double lr = _rate * multiplier;
            double l2 = _options.L2 + _options.Beta / (2.0 * lr);
            var gradToUse = _options.L2Shrinkage > 0 ? g + w * (2 * _options.L2Shrinkage) : g;
            var newN = n + g.square();
            var newNPow = newN.pow(power);
            var sigma = (newNPow - n.pow(power)) / lr;
            z.add_(gradToUse - sigma * w);
            // q > 0 whenever n or the L2 terms are; the clamp keeps an all-zero-gradient coordinate (n = 0, l2 = 0) at 0 instead of 0/0.
            var quadratic = (newNPow / lr + 2 * l2).clamp_min(1e-30);
            var clipped = _options.L1 > 0 ? z.clamp(-_options.L1, _options.L1) : zeros_like(z);
            w.copy_((clipped - z) / quadratic);
            n.copy_(newN);
        }
    }

    public void SetLearningRate(double rate) => _rate = rate;

    public void SaveState(BinaryWriter writer)
    {
        writer.Write(_slots.Count);
        foreach (var slot in _slots)
        {
            slot.Accumulator.Save(writer);
            slot.Linear.Save(writer);
        }
    }

    public void LoadState(BinaryReader reader)
    {
        int n = reader.ReadInt32();
        if (n != _slots.Count)
            throw new InvalidDataException($"The saved FTRL state holds {n} parameters but this run has {_slots.Count}; use the options of the interrupted run.");
        using var _ = no_grad();
        foreach (var slot in _slots)
        {
            using var accumulator = TorchSharp.TensorExtensionMethods.Load(reader);
            using var linear = TorchSharp.TensorExtensionMethods.Load(reader);
            slot.Accumulator.copy_(accumulator);
            slot.Linear.copy_(linear);
        }
    }

    public void Dispose()
    {
        foreach (var slot in _slots)
        {
            slot.Accumulator.Dispose();
            slot.Linear.Dispose();
        }
        _slots.Clear();
    }
}
