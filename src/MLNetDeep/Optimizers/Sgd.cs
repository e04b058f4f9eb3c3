using TorchSharp;

namespace MLNetDeep.Optimizers;

/// <summary>
/// Stochastic gradient descent, optionally with (Nesterov) momentum. The batch size decides which
/// "gradient descent" it is: 1 = per-example SGD, <c>TrainerOptions.FullBatch</c> = batch gradient
/// descent, anything else = mini-batch. Defaults as Keras: lr 0.01, momentum 0.
/// </summary>
/// <remarks>
/// Update (PyTorch's form): g ← ∇ + λ·w; b ← μ·b + g (b₁ = g); w ← w − lr·b, or w ← w − lr·(g + μ·b)
/// with Nesterov. With a constant rate this equals Keras' v ← μ·v − lr·g; w ← w + v.
/// </remarks>
public sealed class Sgd : Optimizer
{
    /// <summary>Creates SGD with Keras' default rate 0.01.</summary>
    public Sgd() { LearningRate = 0.01; }

    /// <summary>Momentum factor in [0, 1). 0 = plain SGD.</summary>
    public double Momentum { get; init; }
    /// <summary>Nesterov accelerated gradient (needs Momentum &gt; 0).</summary>
    public bool Nesterov { get; init; }
    /// <summary>
    /// Coupled weight decay λ: λ·w is added to the gradient before the update (an L2 penalty λ/2·‖w‖² on every
    /// parameter, biases included). For plain SGD coupled and decoupled decay coincide. Default 0.
    /// </summary>
    public double CoupledWeightDecay { get; init; }

    /// <inheritdoc />
    public override string Name => Nesterov ? "nesterov" : Momentum > 0 ? "momentum" : "sgd";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(Momentum >= 0 && Momentum < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        RequireWeightDecay(CoupledWeightDecay, nameof(CoupledWeightDecay));
        if (Nesterov && Momentum <= 0)
            throw new ArgumentException($"Sgd.Nesterov = true needs Momentum > 0 (e.g. 0.9). Received: Momentum={Momentum}", nameof(Nesterov));
    }

    /// <inheritdoc />
    public override IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups)
    {
        Validate();
        return new TorchOptimizerUpdater(groups, ps => torch.optim.SGD(ps, LearningRate, momentum: Momentum, nesterov: Nesterov, weight_decay: CoupledWeightDecay));
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}(lr={LearningRate:G4}, momentum={Momentum:G3})";
}
