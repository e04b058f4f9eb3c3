using MLNetDeep.Data;
using MLNetDeep.Models;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Training;

namespace MLNetDeep.Models.Sequence;

/// <summary>What the feature column of a sequence trainer holds: numeric steps or token ids.</summary>
public abstract record SequenceInput;

/// <summary>
/// Numeric steps: a Single (or Double/Byte) vector column holding T steps × <see cref="FeaturesPerStep"/> values,
/// step by step (fixed size, or variable size with a length that is a multiple of FeaturesPerStep).
/// E.g. <c>new NumericSequence(28)</c> reads a 784-pixel Fashion-MNIST image as 28 rows of 28 pixels.
/// </summary>
/// <param name="FeaturesPerStep">Values in one step (F).</param>
public sealed record NumericSequence(int FeaturesPerStep) : SequenceInput;

/// <summary>
/// Token ids: a variable-size key vector column (<c>TokenizeIntoWords</c> + <c>MapValueToKey</c>, or
/// <c>TokenizeIntoCharactersAsKeys</c>), or UInt32 ids with <see cref="VocabularySize"/> set, fed through a learned
/// embedding. Id 0 (ML.NET's missing key, i.e. a word the key mapping never saw) is the padding index: embedded as
/// zeros and never learned.
/// </summary>
/// <param name="EmbeddingSize">Size of each token's learned vector. Default 64.</param>
public sealed record TokenSequence(int EmbeddingSize = 64) : SequenceInput
{
    /// <summary>Largest token id. Null (default) = the key count of the training column's key type.</summary>
    public int? VocabularySize { get; init; }
    /// <summary>How unknown tokens (id 0) inside a sequence are handled. Default: embedded as the zero vector.</summary>
    public UnknownTokenHandling UnknownTokens { get; init; } = UnknownTokenHandling.ZeroVector;
}

/// <summary>
/// Options of the sequence trainers (LSTM, GRU, plain RNN; many-to-one classification and regression, and
/// per-step tagging): the input, the length limit, the recurrent stack, how outputs are summarised over time,
/// the dense head, recurrent-specific initialisation and gradient clipping, and every shared training option.
/// </summary>
public sealed class SequenceOptions : TrainerOptions
{
    /// <summary>What the feature column holds: <see cref="NumericSequence"/> or <see cref="TokenSequence"/>. Required.</summary>
    public SequenceInput? Input { get; set; }

    /// <summary>Longest sequence the network sees; null (default) = no limit. Longer rows are cut by <see cref="Truncation"/>.</summary>
    public int? MaxLength { get; set; }

    /// <summary>Which part of a row longer than <see cref="MaxLength"/> is kept. Default <see cref="SequenceTruncation.KeepEnd"/> (as Keras' pad_sequences).</summary>
    public SequenceTruncation Truncation { get; set; } = SequenceTruncation.KeepEnd;

    /// <summary>Recurrent cell. Default <see cref="RecurrentCell.Lstm"/>.</summary>
    public RecurrentCell Cell { get; set; } = RecurrentCell.Lstm;

    /// <summary>Non-linearity of a plain <see cref="RecurrentCell.Rnn"/>. Default tanh.</summary>
    public RnnNonlinearity Nonlinearity { get; set; } = RnnNonlinearity.Tanh;

    /// <summary>Units per recurrent layer and direction. Default 128.</summary>
    public int HiddenSize { get; set; } = 128;

    /// <summary>Stacked recurrent layers. Default 1.</summary>
    public int Layers { get; set; } = 1;

    /// <summary>Read sequences in both directions and concatenate the two (2 × HiddenSize features). Default false.</summary>
    public bool Bidirectional { get; set; }

    /// <summary>Dropout between stacked recurrent layers (on every layer's output but the last's). Default 0.</summary>
    public double LayerDropout { get; set; }

    /// <summary>How many-to-one models summarise the outputs over time. Default <see cref="SequenceSummary.LastState"/>. Ignored when tagging.</summary>
    public SequenceSummary Summary { get; set; } = SequenceSummary.LastState;

    /// <summary>The dense head on the summary (or on every step when tagging). Default: a linear output layer, no dropout (as Keras' LSTM → Dense(classes)).</summary>
    public DenseHead Head { get; set; } = new() { HiddenSizes = new(), Dropout = 0, InputDropout = 0 };

    /// <summary>
    /// Creates the options with the recurrent family's defaults: gradient clipping by global norm at 1.0 is on
    /// (<c>Regularization.GradientClipNorm</c>; Pascanu et al., 2013) because exploding gradients are the classic failure of
    /// recurrent nets. When you replace <see cref="TrainerOptions.Regularization"/>, set GradientClipNorm there yourself
    /// (null turns clipping off).
    /// </summary>
    public SequenceOptions() => Regularization = new() { GradientClipNorm = DefaultGradientClipNorm };

    /// <summary>A copy of these options (nested option objects shared, the callback list copied); the original is not changed.</summary>
    public SequenceOptions Clone() => (SequenceOptions)CopyOptions();

    /// <summary>The recurrent family's default clipping norm (1.0).</summary>
    public const double DefaultGradientClipNorm = 1.0;

    /// <summary>Initialise each gate's recurrent matrix as a random orthogonal matrix (Keras' default). Default true; false = PyTorch's uniform init.</summary>
    public bool OrthogonalRecurrentWeights { get; set; } = true;

    /// <summary>LSTM only: initial forget-gate bias, so the cell remembers by default early in training. Default 1; 0 = zero biases.</summary>
    public double ForgetGateBias { get; set; } = 1.0;
}
