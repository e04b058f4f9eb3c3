using Microsoft.ML.Runtime;
using MLNetDeep.Data;
using MLNetDeep.Models;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Persistence;
using MLNetDeep.Training;
using MLNetDeep.Tasks;

namespace MLNetDeep.Models.Sequence;

/// <summary>
/// Trains a recurrent network (LSTM, GRU or plain RNN) on sequences held in one vector column: numeric steps or
/// token ids. Created through <c>mlContext.{MulticlassClassification,BinaryClassification,Regression}.Trainers.Lstm/Gru/Rnn/Sequence(...)</c>
/// (one output per row) or <c>mlContext.MulticlassClassification.Trainers.SequenceTagging(...)</c> (one label per step).
/// </summary>
public sealed class SequenceTrainer : DeepTrainer<SequenceOptions>
{

    internal SequenceTrainer(IHostEnvironment? env, SequenceOptions options, PredictionKind kind) : base(env, options, kind) { }

    /// <summary>Creates a trainer without an MLContext (no log lines; the epoch callback still runs).</summary>
    public SequenceTrainer(SequenceOptions options, PredictionKind kind) : base(null, options, kind) { }

    /// <inheritdoc />
    private protected override DeepTrainer<SequenceOptions> WithOptions(SequenceOptions options, IHostEnvironment? env) => new SequenceTrainer(env, options, Kind);



    /// <inheritdoc />
    protected override NetworkArchitecture CreateArchitecture()
    {
        SequenceLayout layout = Options.Input switch
        {
            NumericSequence n => new NumericSequenceLayout { FeaturesPerStep = n.FeaturesPerStep, MaxLength = Options.MaxLength, Truncation = Options.Truncation },
            TokenSequence t => new TokenSequenceLayout
            {
                VocabularySize = t.VocabularySize, UnknownTokens = t.UnknownTokens, MaxLength = Options.MaxLength, Truncation = Options.Truncation,
            },
            null => throw new ArgumentNullException(nameof(SequenceOptions.Input),
                "SequenceOptions.Input must be set: new NumericSequence(featuresPerStep) for numeric steps (e.g. new NumericSequence(28) for " +
                "Fashion-MNIST read row by row), or new TokenSequence(embeddingSize) for token ids from TokenizeIntoWords + MapValueToKey."),
            _ => throw new ArgumentOutOfRangeException(nameof(SequenceOptions.Input), Options.Input, "Unknown SequenceInput type."),
        };
        if (Options.Head is null) throw new ArgumentNullException(nameof(SequenceOptions.Head), "SequenceOptions.Head must be set (new DenseHead { HiddenSizes = new() } for a linear output layer).");
        // A JSON copy: the architecture saved with the model never aliases the user's option objects.
        return Json.Clone(new SequenceArchitecture
        {
            Input = layout,
            EmbeddingSize = (Options.Input as TokenSequence)?.EmbeddingSize ?? 0,
            Cell = Options.Cell,
            Nonlinearity = Options.Nonlinearity,
            HiddenSize = Options.HiddenSize,
            Layers = Options.Layers,
            Bidirectional = Options.Bidirectional,
            LayerDropout = Options.LayerDropout,
            Summary = Options.Summary,
            PerStepOutput = Kind == PredictionKind.SequenceTagging,
            Head = Options.Head,
            OrthogonalRecurrentWeights = Options.OrthogonalRecurrentWeights,
            ForgetGateBias = Options.ForgetGateBias,
        });
    }
}
