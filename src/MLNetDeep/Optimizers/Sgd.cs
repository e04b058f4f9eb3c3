using TorchSharp;

namespace MLNetDeep.Optimizers;

/// <summary>
/// Stochastic gradient descent, optionally with (Nesterov) momentum. The batch size decides which
/// "gradient descent" it is: 1 = per-example SGD, <c>TrainerOptions.FullBatch</c> = batch gradient
/// descent, anything else = mini-batch. Defaults as Keras: lr 0.01, momentum 0.
/// </summary>
public sealed class Sgd : Optimizer
{
    /// <summary>Creates SGD with Keras' default rate 0.01.</summary>
    public Sgd() { LearningRate = 0.01; }

    /// <summary>Momentum factor in [0, 1). 0 = plain SGD.</summary>
    public double Momentum { get; init; }
    /// <summary>Nesterov accelerated gradient (needs Momentum &gt; 0).</summary>
    public bool Nesterov { get; init; }

    /// <inheritdoc />
    public override string Name => Nesterov ? "nesterov" : Momentum > 0 ? "momentum" : "sgd";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(Momentum >= 0 && Momentum < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        if (Nesterov && Momentum <= 0)
            throw new ArgumentException($"Sgd.Nesterov = true needs Momentum > 0 (e.g. 0.9). Received: Momentum={Momentum}", nameof(Nesterov));
    }

    /// <inheritdoc />
    public override IParameterUpdater CreateUpdater(IReadOnlyList<ParameterGroup> groups)
    {
        Validate();
        return new TorchOptimizerUpdater(groups, ps => torch.optim.SGD(ps, LearningRate, momentum: Momentum, nesterov: Nesterov));
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}(lr={LearningRate:G4}, momentum={Momentum:G3})";
}
