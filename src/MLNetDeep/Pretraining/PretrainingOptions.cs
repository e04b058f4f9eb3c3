using System.Text.Json.Serialization;
using Microsoft.ML;

namespace MLNetDeep.Pretraining;

/// <summary>
/// Greedy layer-wise pretraining of the dense hidden layers before supervised training, on unlabeled rows (the training
/// rows and/or a separate IDataView with only the feature column). Two kinds:
/// <list type="bullet">
/// <item>denoising autoencoders (the default; Bengio et al. 2007; Vincent et al. 2008): each hidden layer in turn learns
/// to reconstruct its input (the output of the layers below it, already pretrained) from a corrupted copy, through a
/// throw-away linear decoder, with Adam (<see cref="LearningRate"/>, <see cref="Corruption"/>);</item>
/// <item>a deep belief net (set <see cref="Rbm"/>; Hinton, Osindero &amp; Teh 2006): the hidden layers as a stack of
/// restricted Boltzmann machines trained by contrastive divergence, each on the hidden probabilities of the one below.</item>
/// </list>
/// </summary>
public sealed class PretrainingOptions
{
    /// <summary>Extra rows without labels (only the feature column is read). Null = none.</summary>
    [JsonIgnore] public IDataView? UnlabeledData { get; set; }
    /// <summary>Also pretrain on the training rows (their labels are ignored). Default true.</summary>
    public bool IncludeTrainingRows { get; init; } = true;
    /// <summary>
    /// Null (default): denoising-autoencoder pretraining with the options of this class. Set: deep-belief-net (stacked RBM)
    /// pretraining with these options; <see cref="LearningRate"/> and <see cref="Corruption"/> are then not used
    /// (<see cref="EpochsPerLayer"/>, <see cref="BatchSize"/> and the rows are).
    /// </summary>
    public RbmOptions? Rbm { get; init; }
    /// <summary>Passes over the unlabeled rows per layer. Default 3.</summary>
    public int EpochsPerLayer { get; init; } = 3;
    /// <summary>Adam learning rate of the autoencoders. Default 1e-3.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Denoising: fraction of each input's values set to zero before encoding (0 = plain autoencoder). Default 0.2.</summary>
    public double Corruption { get; init; } = 0.2;
    /// <summary>Rows per step (null = the trainer's BatchSize).</summary>
    public int? BatchSize { get; init; }

    internal void Validate()
    {
        if (EpochsPerLayer < 1)
            throw new ArgumentOutOfRangeException(nameof(EpochsPerLayer), EpochsPerLayer, $"Pretraining.EpochsPerLayer must be >= 1. Received: EpochsPerLayer={EpochsPerLayer}");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, $"Pretraining.LearningRate must be a finite number > 0. Received: LearningRate={LearningRate}");
        if (!(Corruption >= 0 && Corruption < 1))
            throw new ArgumentOutOfRangeException(nameof(Corruption), Corruption, $"Pretraining.Corruption must be in [0, 1). Received: Corruption={Corruption}");
        if (BatchSize is int b && b < 1)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), b, $"Pretraining.BatchSize must be >= 1. Received: BatchSize={b}");
        if (!IncludeTrainingRows && UnlabeledData is null)
            throw new ArgumentException("Pretraining has no rows: IncludeTrainingRows is false and UnlabeledData is null. Set one of them.", nameof(UnlabeledData));
        Rbm?.Validate();
    }
}

/// <summary>How one layer's pretraining went, per epoch.</summary>
public sealed class PretrainingLayerResult
{
    /// <summary>The layer (e.g. "head.layers.dense0").</summary>
    public string Layer { get; init; } = "";
    /// <summary>
    /// Mean squared reconstruction error per pretraining epoch: of the autoencoder on its training batches, or of the
    /// RBM's mean-field reconstruction E[v | p(h | v)] on the first <see cref="RbmOptions.MonitorRows"/> rows.
    /// </summary>
    public List<double> ReconstructionLoss { get; init; } = new();
    /// <summary>
    /// RBMs with Bernoulli visible units: the mean pseudo-log-likelihood per epoch on the first <see cref="RbmOptions.MonitorRows"/>
    /// rows, computed as scikit-learn's <c>BernoulliRBM.score_samples</c> (one random visible unit flipped per row,
    /// n_visible · log σ(F(v′) − F(v))); higher is better. Empty for autoencoders and Gaussian visible units.
    /// </summary>
    public List<double> PseudoLogLikelihood { get; init; } = new();
}
