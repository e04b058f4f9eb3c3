using System.Globalization;

namespace MLNetDeep.Pretraining;

/// <summary>The kind of visible units of the first RBM (the ones that see the network's inputs).</summary>
public enum RbmVisibleUnits
{
    /// <summary>Binary units with p(vᵢ = 1 | h) = σ(bᵢ + Σⱼ Wⱼᵢhⱼ), for inputs in [0, 1] (pixel intensities read as probabilities).</summary>
    Bernoulli,
    /// <summary>
    /// Real-valued units with unit variance, p(vᵢ | h) = N(bᵢ + Σⱼ Wⱼᵢhⱼ, 1): energy E(v, h) = Σᵢ (vᵢ − bᵢ)²/2 − Σⱼ cⱼhⱼ − Σᵢⱼ vᵢWⱼᵢhⱼ.
    /// For standardised inputs (mean 0, standard deviation 1 per feature); use a learning rate 10–100× smaller than for Bernoulli units.
    /// </summary>
    Gaussian,
}

/// <summary>
/// Deep-belief-net pretraining (Hinton, Osindero &amp; Teh 2006): the dense hidden layers are initialised as a stack of
/// restricted Boltzmann machines trained greedily by contrastive divergence, each on the hidden probabilities of the
/// one below. Set it as <see cref="PretrainingOptions.Rbm"/>; the defaults follow Hinton's <i>A Practical Guide to
/// Training Restricted Boltzmann Machines</i> (2010): CD-1, learning rate 0.1, momentum 0.5 then 0.9, weight decay 2e-4.
/// </summary>
public sealed class RbmOptions
{
    /// <summary>Visible units of the first RBM (the upper ones always have Bernoulli visible units). Default <see cref="RbmVisibleUnits.Bernoulli"/>.</summary>
    public RbmVisibleUnits Visible { get; init; } = RbmVisibleUnits.Bernoulli;

    /// <summary>k of CD-k: Gibbs steps from the data (or from the persistent chains) to the negative sample. Default 1.</summary>
    public int GibbsSteps { get; init; } = 1;

    /// <summary>
    /// Persistent contrastive divergence (Tieleman 2008; scikit-learn's BernoulliRBM): the negative phase continues one set
    /// of Markov chains (as many as the batch size) from update to update instead of restarting them at the data. Default false.
    /// </summary>
    public bool Persistent { get; init; }

    /// <summary>Step size on the mini-batch mean of the CD gradient. Default 0.1 (take 0.001–0.01 for Gaussian visible units).</summary>
    public double LearningRate { get; init; } = 0.1;

    /// <summary>Momentum after the first <see cref="InitialMomentumEpochs"/> epochs of each layer. Default 0.9 (0 = none).</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Momentum during the first <see cref="InitialMomentumEpochs"/> epochs of each layer (the classic 0.5 → 0.9 switch). Default 0.5.</summary>
    public double InitialMomentum { get; init; } = 0.5;

    /// <summary>Epochs of each layer that use <see cref="InitialMomentum"/> before switching to <see cref="Momentum"/>; 0 = <see cref="Momentum"/> throughout. Default 1.</summary>
    public int InitialMomentumEpochs { get; init; } = 1;

    /// <summary>L2 weight decay λ on the weights (not the biases): the update adds −lr·λ·W. Default 2e-4.</summary>
    public double WeightDecay { get; init; } = 2e-4;

    /// <summary>
    /// Sample binary hidden states to drive each reconstruction (true, Hinton's advice) or pass the probabilities
    /// (false, mean field). The learning statistics always use hidden probabilities. Default true.
    /// </summary>
    public bool SampleHidden { get; init; } = true;

    /// <summary>
    /// Sample the visible reconstruction (binary for Bernoulli units, mean + N(0, 1) noise for Gaussian ones) instead of
    /// using its mean. Default false (Hinton: probabilities reduce sampling noise); scikit-learn samples.
    /// </summary>
    public bool SampleVisible { get; init; }

    /// <summary>
    /// Rows on which the per-epoch reconstruction error and pseudo-log-likelihood are computed (the first ones; all when
    /// fewer). Default 10,000.
    /// </summary>
    public int MonitorRows { get; init; } = 10_000;

    internal void Validate()
    {
        static string S(double v) => v.ToString(CultureInfo.InvariantCulture);
        void Require(bool ok, string option, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, value, $"Pretraining.Rbm.{option} {rule}. Received: {option}={(value is double d ? S(d) : value)}");
        }
        Require(Enum.IsDefined(Visible), nameof(Visible), Visible, "must be Bernoulli or Gaussian");
        Require(GibbsSteps >= 1, nameof(GibbsSteps), GibbsSteps, "must be >= 1");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be a finite number > 0");
        Require(Momentum >= 0 && Momentum < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        Require(InitialMomentum >= 0 && InitialMomentum < 1, nameof(InitialMomentum), InitialMomentum, "must be in [0, 1)");
        Require(InitialMomentumEpochs >= 0, nameof(InitialMomentumEpochs), InitialMomentumEpochs, "must be >= 0");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "must be a finite number >= 0");
        Require(MonitorRows >= 1, nameof(MonitorRows), MonitorRows, "must be >= 1");
    }

    /// <summary>The momentum of a layer's epoch (0-based).</summary>
    internal double MomentumAt(int epoch) => epoch < InitialMomentumEpochs ? InitialMomentum : Momentum;
}
