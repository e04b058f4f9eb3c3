using System.Text.Json.Serialization;
using MLNetDeep.Data;
using MLNetDeep.Initializers;

namespace MLNetDeep.Models.Sequence;

/// <summary>The recurrent cell of a sequence network.</summary>
public enum RecurrentCell
{
    /// <summary>Long short-term memory (Hochreiter &amp; Schmidhuber, 1997): input, forget and output gates plus a cell state.</summary>
    Lstm,
    /// <summary>Gated recurrent unit (Cho et al., 2014): reset and update gates; fewer weights than an LSTM.</summary>
    Gru,
    /// <summary>Plain (Elman) recurrent layer h' = act(W x + U h + b), with <see cref="RnnNonlinearity"/> as act. Forgets quickly: gradients vanish over long spans.</summary>
    Rnn,
}

/// <summary>The non-linearity of a plain <see cref="RecurrentCell.Rnn"/> cell.</summary>
public enum RnnNonlinearity
{
    /// <summary>Hyperbolic tangent (Keras SimpleRNN and PyTorch nn.RNN default).</summary>
    Tanh,
    /// <summary>ReLU (the "IRNN" of Le et al., 2015, when combined with an orthogonal or identity recurrent matrix).</summary>
    Relu,
}

/// <summary>How a many-to-one network turns the recurrent outputs of all steps into one vector for the head.</summary>
public enum SequenceSummary
{
    /// <summary>
    /// The final hidden state of the top layer: at each row's true last step (padding is skipped), and for a
    /// bidirectional network concatenated with the backward direction's state after it has read back to step 0.
    /// Keras' <c>return_sequences=False</c>.
    /// </summary>
    LastState,
    /// <summary>The mean of the top layer's outputs over the row's real steps (padding excluded).</summary>
    MeanOverTime,
    /// <summary>The element-wise maximum of the top layer's outputs over the row's real steps (padding excluded).</summary>
    MaxOverTime,
}

/// <summary>The saved description of a recurrent sequence network: input layout, [embedding], recurrent stack, summary and dense head.</summary>
public sealed class SequenceArchitecture : NetworkArchitecture
{
    /// <summary>How rows become sequences (numeric steps or token ids), with the length limit.</summary>
    public SequenceLayout Input { get; init; } = new NumericSequenceLayout();
    /// <summary>Token input: size of each token's learned embedding vector. Ignored for numeric input.</summary>
    public int EmbeddingSize { get; init; } = 64;
    /// <summary>Recurrent cell.</summary>
    public RecurrentCell Cell { get; init; } = RecurrentCell.Lstm;
    /// <summary>Non-linearity of a plain RNN cell.</summary>
    public RnnNonlinearity Nonlinearity { get; init; } = RnnNonlinearity.Tanh;
    /// <summary>Units in each recurrent layer (per direction).</summary>
    public int HiddenSize { get; init; } = 128;
    /// <summary>Stacked recurrent layers.</summary>
    public int Layers { get; init; } = 1;
    /// <summary>Read each sequence forwards and backwards and concatenate both directions' outputs.</summary>
    public bool Bidirectional { get; init; }
    /// <summary>Dropout on the outputs of every recurrent layer but the last (needs Layers ≥ 2 to have an effect).</summary>
    public double LayerDropout { get; init; }
    /// <summary>Many-to-one summary of the outputs over time.</summary>
    public SequenceSummary Summary { get; init; } = SequenceSummary.LastState;
    /// <summary>One output per step (sequence tagging) instead of one per row.</summary>
    public bool PerStepOutput { get; init; }
    /// <summary>Dense head applied to the summary (or to every step's output when tagging).</summary>
    public DenseHead Head { get; init; } = new();
    /// <summary>Initialise each gate's recurrent matrix as a random orthogonal matrix (Saxe et al., 2014; Keras' default).</summary>
    public bool OrthogonalRecurrentWeights { get; init; } = true;
    /// <summary>LSTM only: initial forget-gate bias (Jozefowicz et al., 2015; Keras' unit_forget_bias). 0 = all biases zero.</summary>
    public double ForgetGateBias { get; init; } = 1.0;

    /// <inheritdoc />
    [JsonIgnore] public override FeatureLayout Layout => Input;

    /// <summary>Width of one step's recurrent output (hidden size × directions).</summary>
    internal long OutputWidth => (long)HiddenSize * (Bidirectional ? 2 : 1);

    /// <inheritdoc />
    public override void Validate()
    {
        static void Require(bool ok, string option, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(option, value, $"{option} {rule}. Received: {option}={value}");
        }
        if (Input is null) throw new ArgumentNullException(nameof(Input), "Input must be set: new NumericSequence(featuresPerStep) or new TokenSequence(embeddingSize).");
        Input.ValidateOptions("SequenceOptions");
        if (Input is NumericSequenceLayout num)
            Require(num.FeaturesPerStep > 0, "FeaturesPerStep", num.FeaturesPerStep, "must be > 0 (values in one step; e.g. 28 for Fashion-MNIST read row by row)");
        if (Input is TokenSequenceLayout tok)
        {
            Require(EmbeddingSize > 0, nameof(EmbeddingSize), EmbeddingSize, "must be > 0 for token input (typical 32-300)");
            if (tok.VocabularySize is int v) Require(v > 0, "VocabularySize", v, "must be > 0 (the largest token id), or null to take it from the key type");
            if (!Enum.IsDefined(tok.UnknownTokens))
                throw new ArgumentOutOfRangeException("UnknownTokens", tok.UnknownTokens, $"UnknownTokens is not a known value. Received: UnknownTokens={tok.UnknownTokens}");
        }
        Require(Enum.IsDefined(Cell), nameof(Cell), Cell, "must be Lstm, Gru or Rnn");
        Require(Enum.IsDefined(Nonlinearity), nameof(Nonlinearity), Nonlinearity, "must be Tanh or Relu");
        Require(Enum.IsDefined(Summary), nameof(Summary), Summary, "must be LastState, MeanOverTime or MaxOverTime");
        Require(HiddenSize > 0, nameof(HiddenSize), HiddenSize, "must be > 0 (typical 32-512)");
        Require(Layers > 0, nameof(Layers), Layers, "must be > 0 (stacked recurrent layers; typical 1-3)");
        Require(LayerDropout >= 0 && LayerDropout < 1, nameof(LayerDropout), LayerDropout, "must be in [0, 1)");
        Require(double.IsFinite(ForgetGateBias), nameof(ForgetGateBias), ForgetGateBias, "must be a finite number (1 is usual, 0 disables it)");
        if (PerStepOutput && Input.MaxLength is int max && Input.Truncation != SequenceTruncation.Error)
            throw new ArgumentException(
                $"Sequence tagging predicts one label per step, so a row can't be truncated to MaxLength={max} (Truncation={Input.Truncation}) " +
                "without losing steps' predictions. Set Truncation = SequenceTruncation.Error, or MaxLength = null.", "Truncation");
        if (Head is null) throw new ArgumentNullException(nameof(Head), "Head must be set (new DenseHead { HiddenSizes = new() } for a linear output layer).");
        Head.Validate("Head");
    }

    /// <inheritdoc />
    public override DeepNetwork Build(int outputSize, Initializer? initializer) => new SequenceNetwork(this, outputSize, initializer);

    /// <inheritdoc />
    public override IReadOnlyList<ParameterCount> CountParameters(int outputSize)
    {
        var parts = new List<ParameterCount>();
        long input = Input is NumericSequenceLayout n ? n.FeaturesPerStep : EmbeddingSize;
        if (Input is TokenSequenceLayout t && t.VocabularySize is int v)
            parts.Add(new ParameterCount($"the token embedding (VocabularySize={v} x EmbeddingSize={EmbeddingSize})", (v + 1L) * EmbeddingSize));
        long gates = Cell switch { RecurrentCell.Lstm => 4, RecurrentCell.Gru => 3, _ => 1 }, h = HiddenSize, directions = Bidirectional ? 2 : 1;
        for (int layer = 0; layer < Layers; layer++)
        {
            long inputs = layer == 0 ? input : h * directions;
            parts.Add(new ParameterCount($"recurrent layer {layer} ({Cell}, HiddenSize={HiddenSize})", directions * gates * (inputs * h + h * h + 2 * h)));
        }
        parts.AddRange(Head.CountParameters(OutputWidth, outputSize, "Head"));
        return parts;
    }

    /// <inheritdoc />
    public override NetworkArchitecture ForTrainingColumn(string columnName, Microsoft.ML.Data.DataViewType type)
    {
        var bound = (SequenceLayout)Input.ForTrainingColumn(columnName, type);
        if (ReferenceEquals(bound, Input)) return this;
        return new SequenceArchitecture
        {
            Input = bound, EmbeddingSize = EmbeddingSize, Cell = Cell, Nonlinearity = Nonlinearity, HiddenSize = HiddenSize, Layers = Layers,
            Bidirectional = Bidirectional, LayerDropout = LayerDropout, Summary = Summary, PerStepOutput = PerStepOutput, Head = Head,
            OrthogonalRecurrentWeights = OrthogonalRecurrentWeights, ForgetGateBias = ForgetGateBias,
        };
    }
}
