using MLNetDeep.Data;
using MLNetDeep.Training;

namespace MLNetDeep.Models.Seq2Seq;

/// <summary>
/// What a trained sequence-to-sequence model writes when it scores (saved with the model): the decoding (greedy or beam
/// search, with its length limit resolved) and whether the log-probability column is written.
/// </summary>
public sealed class Seq2SeqOutput
{
    /// <summary>Decoding used by <c>Transform</c> and <c>PredictionEngine</c>; its <see cref="Seq2SeqDecodeOptions.MaxOutputLength"/> is always set.</summary>
    public Seq2SeqDecodeOptions Decoding { get; init; } = new();
    /// <summary>Write the Score column (the log-probability of each predicted sequence, end token included).</summary>
    public bool LogProbabilityColumn { get; init; } = true;

    /// <summary>Most tokens per scored row.</summary>
    internal int MaxTokens => Decoding.MaxOutputLength ?? throw new InvalidDataException("The saved seq2seq decoding has no MaxOutputLength.");

    /// <summary>Values per scored row: the token count, the log-probability, then MaxTokens token ids (0 after the row's last).</summary>
    internal int RowWidth => MaxTokens + 2;
}

/// <summary>
/// Options of the sequence-to-sequence trainer (<c>mlContext.MulticlassClassification.Trainers.Seq2Seq</c>): the source
/// (token ids, numeric steps or one vector per row), the encoder, the decoder with its attention, the longest output,
/// teacher forcing, the decoding used when scoring and when validating, and every shared training option. The label
/// column is a variable-length key vector of target tokens (e.g. <c>TokenizeIntoWords</c> + <c>MapValueToKey</c> of the
/// target text); start and end tokens are handled internally.
/// </summary>
public sealed class Seq2SeqOptions : TrainerOptions
{
    /// <summary>
    /// What the feature column holds: <see cref="TokenSequenceLayout"/> (token ids, the default; the vocabulary comes from
    /// the key type), <see cref="NumericSequenceLayout"/> (steps of numbers) or <see cref="FixedShapeLayout"/> (one vector
    /// or image per row: one-to-many). Source length limits are the layout's <c>MaxLength</c> and <c>Truncation</c>.
    /// </summary>
    public FeatureLayout Input { get; set; } = new TokenSequenceLayout();

    /// <summary>The recurrent encoder of sequence sources. Default: bidirectional LSTM, 128 units per direction, 64-wide token embeddings.</summary>
    public RecurrentEncoder Encoder { get; set; } = new() { Bidirectional = true };

    /// <summary>The encoder of vector / image sources (a dense projection, or a CNN body). Used with a <see cref="FixedShapeLayout"/> input.</summary>
    public VectorEncoder VectorEncoder { get; set; } = new();

    /// <summary>The recurrent decoder. Default: LSTM, 128 units, 64-wide target embeddings, Luong "general" attention.</summary>
    public RecurrentDecoder Decoder { get; set; } = new() { Attention = AttentionKind.LuongGeneral };

    /// <summary>Most tokens the decoder produces for one row (end token not counted). Training targets longer than this are refused. Default 50.</summary>
    public int MaxOutputLength { get; set; } = 50;

    /// <summary>Teacher forcing: the share of steps that read the true previous token, and its decay over epochs (scheduled sampling). Default: always (ratio 1).</summary>
    public TeacherForcing TeacherForcing { get; set; } = new();

    /// <summary>Decoding when the trained model scores (saved with it; change it later with <c>model.WithDecoding(...)</c>). Default greedy.</summary>
    public Seq2SeqDecodeOptions Decoding { get; set; } = new();

    /// <summary>Decoding of the validation rows after every epoch (the exact-match, token-error-rate and BLEU figures early stopping can watch). Default greedy.</summary>
    public Seq2SeqDecodeOptions ValidationDecoding { get; set; } = new();

    /// <summary>Write the Score column: each predicted sequence's log-probability (natural log, end token included). Default true.</summary>
    public bool LogProbabilityColumn { get; set; } = true;

    /// <summary>Initialise each gate's recurrent matrix as a random orthogonal matrix. Default true.</summary>
    public bool OrthogonalRecurrentWeights { get; set; } = true;

    /// <summary>LSTM only: initial forget-gate bias. Default 1; 0 = zero biases.</summary>
    public double ForgetGateBias { get; set; } = 1.0;

    /// <summary>
    /// Creates the options with the recurrent family's defaults: gradient clipping by global norm at 1.0 is on
    /// (<c>Regularization.GradientClipNorm</c>). When you replace <see cref="TrainerOptions.Regularization"/>, set
    /// GradientClipNorm there yourself (null turns clipping off).
    /// </summary>
    public Seq2SeqOptions() => Regularization = new() { GradientClipNorm = Sequence.SequenceOptions.DefaultGradientClipNorm };

    /// <inheritdoc />
    internal override void Validate()
    {
        base.Validate();
        if (Input is null) throw new ArgumentNullException(nameof(Input), "Seq2SeqOptions.Input must be set: new TokenSequenceLayout(), new NumericSequenceLayout { FeaturesPerStep = F } or new FixedShapeLayout { Shape = ... }.");
        if (Encoder is null) throw new ArgumentNullException(nameof(Encoder), "Seq2SeqOptions.Encoder must be set (new RecurrentEncoder()).");
        if (VectorEncoder is null) throw new ArgumentNullException(nameof(VectorEncoder), "Seq2SeqOptions.VectorEncoder must be set (new VectorEncoder()).");
        if (Decoder is null) throw new ArgumentNullException(nameof(Decoder), "Seq2SeqOptions.Decoder must be set (new RecurrentDecoder()).");
        if (MaxOutputLength <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxOutputLength), MaxOutputLength,
                $"MaxOutputLength must be > 0 (the most tokens decoded per row, end token not counted; e.g. 2 x the longest target). Received: MaxOutputLength={MaxOutputLength}");
        (TeacherForcing ?? throw new ArgumentNullException(nameof(TeacherForcing), "Seq2SeqOptions.TeacherForcing must be set (new TeacherForcing())")).Validate();
        (Decoding ?? throw new ArgumentNullException(nameof(Decoding), "Seq2SeqOptions.Decoding must be set (new Seq2SeqDecodeOptions())")).Validate();
        (ValidationDecoding ?? throw new ArgumentNullException(nameof(ValidationDecoding), "Seq2SeqOptions.ValidationDecoding must be set (new Seq2SeqDecodeOptions())")).Validate();
        if (Pretraining is not null)
            throw new ArgumentException("Pretraining (layer-wise autoencoders of dense layers) does not apply to sequence-to-sequence networks. Set Pretraining = null.", nameof(Pretraining));
    }

    /// <summary>What the trained model writes when scoring, from these options.</summary>
    internal Seq2SeqOutput Output() => new()
    {
        Decoding = Decoding.WithMaxOutputLength(Decoding.MaxOutputLength ?? MaxOutputLength),
        LogProbabilityColumn = LogProbabilityColumn,
    };
}
