using System.Text.Json.Serialization;
using MLNetDeep.Data;
using MLNetDeep.Initializers;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Models.Sequence;

namespace MLNetDeep.Models.Seq2Seq;

/// <summary>How the decoder looks back at the encoder's outputs at every output step.</summary>
public enum AttentionKind
{
    /// <summary>No attention: the encoder's final state (through the bridge) is all the decoder sees of the input.</summary>
    None,
    /// <summary>
    /// Additive attention (Bahdanau et al., 2015): score(s, k) = vᵀ tanh(W_q s + W_k k) with s the decoder's top state
    /// before the step; the context joins the token embedding as the step's input.
    /// </summary>
    Bahdanau,
    /// <summary>Luong et al. (2015) "dot": score(h, k) = hᵀ k with h the decoder's top output of the step. Needs the decoder's HiddenSize equal to the memory width.</summary>
    LuongDot,
    /// <summary>Luong et al. (2015) "general": score(h, k) = hᵀ W k.</summary>
    LuongGeneral,
}

/// <summary>The recurrent encoder of token or numeric source sequences (the same stack as the sequence trainers').</summary>
public sealed class RecurrentEncoder
{
    /// <summary>Recurrent cell.</summary>
    public RecurrentCell Cell { get; init; } = RecurrentCell.Lstm;
    /// <summary>Non-linearity of a plain RNN cell.</summary>
    public RnnNonlinearity Nonlinearity { get; init; } = RnnNonlinearity.Tanh;
    /// <summary>Units per layer and direction.</summary>
    public int HiddenSize { get; init; } = 128;
    /// <summary>Stacked layers.</summary>
    public int Layers { get; init; } = 1;
    /// <summary>Read the source both ways; the memory is both directions' outputs side by side.</summary>
    public bool Bidirectional { get; init; }
    /// <summary>Dropout between stacked layers (needs Layers ≥ 2).</summary>
    public double LayerDropout { get; init; }
    /// <summary>Token sources: size of each source token's embedding.</summary>
    public int EmbeddingSize { get; init; } = 64;
}

/// <summary>
/// The encoder of a fixed-size vector or image (one-to-many, e.g. captioning): an optional CNN body (a
/// <see cref="CnnArchitecture"/> whose dense head ends in <see cref="Size"/> units) or, without one, a dense projection.
/// The encoded vector (tanh) is the attention memory (one slot) and the bridge's input.
/// </summary>
public sealed class VectorEncoder
{
    /// <summary>Width of the encoded vector.</summary>
    public int Size { get; init; } = 256;
    /// <summary>Hidden layers of the dense projection (used when <see cref="Cnn"/> is null); empty = one linear layer.</summary>
    public DenseHead Projection { get; init; } = new() { HiddenSizes = new(), Dropout = 0 };
    /// <summary>A CNN body for image rows (its ImageShape must match the input's shape); null = dense projection.</summary>
    public CnnArchitecture? Cnn { get; init; }
}

/// <summary>The recurrent decoder: target-token embedding → LSTM/GRU/RNN stack → [attention] → output projection.</summary>
public sealed class RecurrentDecoder
{
    /// <summary>Recurrent cell.</summary>
    public RecurrentCell Cell { get; init; } = RecurrentCell.Lstm;
    /// <summary>Non-linearity of a plain RNN cell.</summary>
    public RnnNonlinearity Nonlinearity { get; init; } = RnnNonlinearity.Tanh;
    /// <summary>Units per layer.</summary>
    public int HiddenSize { get; init; } = 128;
    /// <summary>Stacked layers.</summary>
    public int Layers { get; init; } = 1;
    /// <summary>Size of each target token's embedding.</summary>
    public int EmbeddingSize { get; init; } = 64;
    /// <summary>Dropout between stacked layers and before the output projection (training only).</summary>
    public double Dropout { get; init; }
    /// <summary>Attention over the encoder's outputs.</summary>
    public AttentionKind Attention { get; init; } = AttentionKind.None;
    /// <summary>Bahdanau attention: width of the additive scoring layer.</summary>
    public int AttentionSize { get; init; } = 128;
}

/// <summary>
/// The saved description of an encoder–decoder (sequence-to-sequence) network. Token ids: the source column's ids
/// 1..V (0 = padding / unknown); the target column's key ids 1..K, with 0 = padding and two ids reserved past the keys:
/// <see cref="EndId"/> = K + 1 and <see cref="StartId"/> = K + 2. The network scores K + 1 classes per step: output index
/// j is target id j + 1, so index K is the end token.
/// </summary>
public sealed class Seq2SeqArchitecture : NetworkArchitecture
{
    /// <summary>
    /// The source rows: <see cref="TokenSequenceLayout"/> (token ids), <see cref="NumericSequenceLayout"/> (steps of numbers)
    /// or <see cref="FixedShapeLayout"/> (one vector or image per row: one-to-many).
    /// </summary>
    public FeatureLayout Input { get; init; } = new TokenSequenceLayout();
    /// <summary>Encoder of sequence sources.</summary>
    public RecurrentEncoder Encoder { get; init; } = new();
    /// <summary>Encoder of vector / image sources.</summary>
    public VectorEncoder VectorEncoder { get; init; } = new();
    /// <summary>The decoder.</summary>
    public RecurrentDecoder Decoder { get; init; } = new();
    /// <summary>Number of target keys K (the target key column's count). Set from the key type; required to build.</summary>
    public int? TargetVocabularySize { get; set; }
    /// <summary>Most tokens the decoder produces for one row, end token not counted. Targets longer than this are refused.</summary>
    public int MaxOutputLength { get; init; } = 50;
    /// <summary>Initialise each gate's recurrent matrix as a random orthogonal matrix (Saxe et al., 2014).</summary>
    public bool OrthogonalRecurrentWeights { get; init; } = true;
    /// <summary>LSTM only: initial forget-gate bias (Jozefowicz et al., 2015). 0 = all biases zero.</summary>
    public double ForgetGateBias { get; init; } = 1.0;

    /// <inheritdoc />
    [JsonIgnore] public override FeatureLayout Layout => Input;

    /// <summary>The end token's id: K + 1.</summary>
    [JsonIgnore] public int EndId => K + 1;
    /// <summary>The start token's id: K + 2 (only ever a decoder input).</summary>
    [JsonIgnore] public int StartId => K + 2;
    /// <summary>Classes scored per step: K tokens and the end token.</summary>
    [JsonIgnore] public int OutputClasses => K + 1;

    private int K => TargetVocabularySize ?? throw new InvalidOperationException(
        "Seq2SeqArchitecture.TargetVocabularySize is not set: it is the target key column's key count K (ids 1..K).");

    /// <summary>True for vector / image sources (one-to-many).</summary>
    [JsonIgnore] internal bool VectorSource => Input is FixedShapeLayout;

    /// <summary>Width of one memory slot: encoder outputs (hidden × directions) or the encoded vector.</summary>
    [JsonIgnore] internal int MemoryWidth => VectorSource ? VectorEncoder.Size : Encoder.HiddenSize * (Encoder.Bidirectional ? 2 : 1);

    /// <inheritdoc />
    public override void Validate()
    {
        static void Require(bool ok, string option, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, value, $"{option} {rule}. Received: {option}={value}");
        }
        if (Input is null) throw new ArgumentNullException(nameof(Input), "Input must be set: new TokenSequenceLayout(), new NumericSequenceLayout { FeaturesPerStep = F } or new FixedShapeLayout { Shape = ... }.");
        if (Encoder is null) throw new ArgumentNullException(nameof(Encoder), "Encoder must be set (new RecurrentEncoder()).");
        if (VectorEncoder is null) throw new ArgumentNullException(nameof(VectorEncoder), "VectorEncoder must be set (new VectorEncoder()).");
        if (Decoder is null) throw new ArgumentNullException(nameof(Decoder), "Decoder must be set (new RecurrentDecoder()).");
        Require(MaxOutputLength > 0, nameof(MaxOutputLength), MaxOutputLength, "must be > 0 (the most tokens decoded per row, end token not counted; e.g. 2 x the longest target)");
        if (TargetVocabularySize is int k) Require(k > 0, nameof(TargetVocabularySize), k, "must be > 0 (the target key column's key count)");
        Require(double.IsFinite(ForgetGateBias), nameof(ForgetGateBias), ForgetGateBias, "must be a finite number (1 is usual, 0 disables it)");
        switch (Input)
        {
            case TokenSequenceLayout tok:
                tok.ValidateOptions("Input");
                if (tok.VocabularySize is int v) Require(v > 0, "Input.VocabularySize", v, "must be > 0 (the largest source token id)");
                Require(Encoder.EmbeddingSize > 0, "Encoder.EmbeddingSize", Encoder.EmbeddingSize, "must be > 0 for token sources (typical 16-300)");
                break;
            case NumericSequenceLayout num:
                num.ValidateOptions("Input");
                Require(num.FeaturesPerStep > 0, "Input.FeaturesPerStep", num.FeaturesPerStep, "must be > 0 (values in one step)");
                break;
            case FixedShapeLayout fixedShape:
                Require(fixedShape.Shape.Length > 0 && fixedShape.Shape.All(d => d > 0), "Input.Shape", string.Join("x", fixedShape.Shape), "must have at least one dimension, each > 0");
                Require(VectorEncoder.Size > 0, "VectorEncoder.Size", VectorEncoder.Size, "must be > 0 (typical 64-512)");
                if (VectorEncoder.Cnn is { } cnn)
                {
                    cnn.Validate();
                    var shape = new long[] { cnn.ImageShape.Channels, cnn.ImageShape.Height, cnn.ImageShape.Width };
                    if (!shape.SequenceEqual(fixedShape.Shape))
                        throw new ArgumentException($"VectorEncoder.Cnn.ImageShape ({cnn.ImageShape}) must equal Input.Shape ({string.Join("x", fixedShape.Shape)}). Received: ImageShape={cnn.ImageShape}", "VectorEncoder.Cnn");
                }
                else
                {
                    if (VectorEncoder.Projection is null) throw new ArgumentNullException("VectorEncoder.Projection", "VectorEncoder.Projection must be set (new DenseHead { HiddenSizes = new() } for one linear layer).");
                    VectorEncoder.Projection.Validate("VectorEncoder.Projection");
                }
                break;
            default:
                throw new ArgumentException($"Input must be a TokenSequenceLayout, NumericSequenceLayout or FixedShapeLayout. Received: Input={Input.GetType().Name}", nameof(Input));
        }
        if (!VectorSource)
        {
            Require(Enum.IsDefined(Encoder.Cell), "Encoder.Cell", Encoder.Cell, "must be Lstm, Gru or Rnn");
            Require(Enum.IsDefined(Encoder.Nonlinearity), "Encoder.Nonlinearity", Encoder.Nonlinearity, "must be Tanh or Relu");
            Require(Encoder.HiddenSize > 0, "Encoder.HiddenSize", Encoder.HiddenSize, "must be > 0 (typical 64-512)");
            Require(Encoder.Layers > 0, "Encoder.Layers", Encoder.Layers, "must be > 0 (typical 1-3)");
            Require(Encoder.LayerDropout >= 0 && Encoder.LayerDropout < 1, "Encoder.LayerDropout", Encoder.LayerDropout, "must be in [0, 1)");
        }
        Require(Enum.IsDefined(Decoder.Cell), "Decoder.Cell", Decoder.Cell, "must be Lstm, Gru or Rnn");
        Require(Enum.IsDefined(Decoder.Nonlinearity), "Decoder.Nonlinearity", Decoder.Nonlinearity, "must be Tanh or Relu");
        Require(Decoder.HiddenSize > 0, "Decoder.HiddenSize", Decoder.HiddenSize, "must be > 0 (typical 64-512)");
        Require(Decoder.Layers > 0, "Decoder.Layers", Decoder.Layers, "must be > 0 (typical 1-3)");
        Require(Decoder.EmbeddingSize > 0, "Decoder.EmbeddingSize", Decoder.EmbeddingSize, "must be > 0 (typical 16-300)");
        Require(Decoder.Dropout >= 0 && Decoder.Dropout < 1, "Decoder.Dropout", Decoder.Dropout, "must be in [0, 1)");
        Require(Enum.IsDefined(Decoder.Attention), "Decoder.Attention", Decoder.Attention, "must be None, Bahdanau, LuongDot or LuongGeneral");
        if (Decoder.Attention == AttentionKind.Bahdanau)
            Require(Decoder.AttentionSize > 0, "Decoder.AttentionSize", Decoder.AttentionSize, "must be > 0 for Bahdanau attention (typical 64-256)");
        if (Decoder.Attention == AttentionKind.LuongDot && Decoder.HiddenSize != MemoryWidth)
            throw new ArgumentException(
                $"Luong dot attention scores hᵀk, so Decoder.HiddenSize must equal the memory width {MemoryWidth} " +
                $"({(VectorSource ? "VectorEncoder.Size" : $"Encoder.HiddenSize x {(Encoder.Bidirectional ? 2 : 1)} directions")}). " +
                $"Set Decoder.HiddenSize = {MemoryWidth}, or use AttentionKind.LuongGeneral (a learned W between them). Received: Decoder.HiddenSize={Decoder.HiddenSize}",
                "Decoder.HiddenSize");
    }

    /// <summary>A token source column fixes the vocabulary (its key count) when none is set; the copy records it.</summary>
    public override NetworkArchitecture ForTrainingColumn(string columnName, Microsoft.ML.Data.DataViewType type)
    {
        var bound = Input.ForTrainingColumn(columnName, type);
        if (ReferenceEquals(bound, Input)) return this;
        return new Seq2SeqArchitecture
        {
            Input = bound, Encoder = Encoder, VectorEncoder = VectorEncoder, Decoder = Decoder, TargetVocabularySize = TargetVocabularySize,
            MaxOutputLength = MaxOutputLength, OrthogonalRecurrentWeights = OrthogonalRecurrentWeights, ForgetGateBias = ForgetGateBias,
        };
    }

    /// <summary>Builds the network for <paramref name="outputSize"/> target keys K (must equal <see cref="TargetVocabularySize"/> when that is set).</summary>
    public override DeepNetwork Build(int outputSize, Initializer? initializer)
    {
        if (TargetVocabularySize is int k && k != outputSize)
            throw new ArgumentException($"The target has {outputSize} keys but TargetVocabularySize is {k}. Received: outputSize={outputSize}", nameof(outputSize));
        TargetVocabularySize = outputSize;
        Validate();
        return new Seq2SeqNetwork(this, initializer);
    }
}
