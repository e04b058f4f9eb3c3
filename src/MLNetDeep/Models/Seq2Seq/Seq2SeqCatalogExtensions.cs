using Microsoft.ML;
using MLNetDeep.Data;
using MLNetDeep.MLNetInternals;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Onnx;
using RecurrentCell = MLNetDeep.Models.Sequence.RecurrentCell;
using MLNetDeep.Optimizers;
using MLNetDeep.Persistence;
using MLNetDeep.Scoring;
using MLNetDeep.Tasks;
using MLNetDeep.Training;
using TorchSharp;

namespace MLNetDeep.Models.Seq2Seq;

/// <summary>
/// The sequence-to-sequence trainer and evaluator on ML.NET's multiclass catalog (beside the sequence tagger: both predict
/// a key vector, one key per output token), and what a trained seq2seq model adds: other decoding, ONNX export of the
/// encoder and one decoder step.
/// </summary>
public static class Seq2SeqCatalogExtensions
{
    /// <summary>
    /// A sequence-to-sequence trainer with full options: the label column is a variable-length key vector of target tokens
    /// (e.g. <c>TokenizeIntoWords</c> + <c>MapValueToKey</c> of the target text); PredictedLabel is the decoded key vector
    /// (<c>MapKeyToValue</c> turns it back into tokens), Score its log-probability.
    /// </summary>
    public static Seq2SeqTrainer Seq2Seq(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, Seq2SeqOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options);

    /// <summary>
    /// A sequence-to-sequence trainer with plain arguments, for token sources (a key vector column, e.g. from
    /// <c>TokenizeIntoCharactersAsKeys</c> or <c>TokenizeIntoWords</c> + <c>MapValueToKey</c>): a recurrent encoder, a
    /// recurrent decoder with attention, Adam, clipping at global norm 1. Numeric or vector sources: the options overload.
    /// </summary>
    /// <param name="catalog">mlContext.MulticlassClassification.Trainers.</param>
    /// <param name="labelColumnName">Variable-length key vector of target tokens.</param>
    /// <param name="featureColumnName">Key vector of source tokens.</param>
    /// <param name="cell">Recurrent cell of the encoder and the decoder.</param>
    /// <param name="hiddenSize">Units per recurrent layer (per direction in the encoder).</param>
    /// <param name="bidirectional">Read the source both ways.</param>
    /// <param name="attention">How the decoder looks back at the source.</param>
    /// <param name="maxOutputLength">Most tokens per output (end token not counted).</param>
    /// <param name="beamWidth">Scoring: 1 = greedy decoding, more = beam search.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static Seq2SeqTrainer Seq2Seq(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", RecurrentCell cell = RecurrentCell.Lstm, int hiddenSize = 128,
        bool bidirectional = true, AttentionKind attention = AttentionKind.LuongGeneral, int maxOutputLength = 50, int beamWidth = 1,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Seq2Seq(catalog, new Seq2SeqOptions
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            Input = new TokenSequenceLayout(),
            Encoder = new RecurrentEncoder { Cell = cell, HiddenSize = hiddenSize, Bidirectional = bidirectional },
            Decoder = new RecurrentDecoder
            {
                Cell = cell, Attention = attention,
                // Luong dot scores hᵀk, so the decoder is as wide as the encoder's outputs.
                HiddenSize = attention == AttentionKind.LuongDot && bidirectional ? 2 * hiddenSize : hiddenSize,
            },
            MaxOutputLength = maxOutputLength,
            Decoding = new Seq2SeqDecodeOptions { BeamWidth = beamWidth },
            Epochs = epochs,
            BatchSize = batchSize,
            Optimizer = new Adam { LearningRate = learningRate },
        });

    /// <summary>
    /// Exact-sequence accuracy, token error rate (edit distance / reference length) and corpus BLEU of scored data: the label
    /// and predicted columns are key vectors of target tokens (the trainer's Label and PredictedLabel).
    /// </summary>
    /// <param name="catalog">mlContext.MulticlassClassification.</param>
    /// <param name="data">Scored data (the model's Transform output).</param>
    /// <param name="labelColumnName">Key vector of the reference tokens.</param>
    /// <param name="predictedLabelColumnName">Key vector of the predicted tokens.</param>
    public static Seq2SeqMetrics EvaluateSeq2Seq(this MulticlassClassificationCatalog catalog, IDataView data,
        string labelColumnName = "Label", string predictedLabelColumnName = ColumnNames.PredictedLabel)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Seq2SeqMetrics.Evaluate(data, labelColumnName, predictedLabelColumnName);
    }

    /// <summary>
    /// The same trained model scoring with other decoding (e.g. beam search of width 5 with GNMT length normalisation, or a
    /// longer MaxOutputLength). A new transformer with its own copy of the weights; <paramref name="model"/> is unchanged.
    /// </summary>
    /// <param name="model">A trained sequence-to-sequence model.</param>
    /// <param name="decoding">The decoding; its MaxOutputLength null = the model's.</param>
    /// <param name="logProbabilityColumn">Write the Score column; null = as the model does.</param>
    public static DeepTransformer WithDecoding(this DeepTransformer model, Seq2SeqDecodeOptions decoding, bool? logProbabilityColumn = null)
    {
        var network = Seq2SeqNetworkOf(model);
        ArgumentNullException.ThrowIfNull(decoding);
        decoding.Validate();
        var d = model.Description;
        var output = d.Head.Seq2Seq!;
        var spec = new HeadSpec
        {
            Kind = d.Head.Kind, ClassNames = d.Head.ClassNames, Columns = d.Head.Columns,
            Seq2Seq = new Seq2SeqOutput
            {
                Decoding = decoding.WithMaxOutputLength(decoding.MaxOutputLength ?? network.Architecture.MaxOutputLength),
                LogProbabilityColumn = logProbabilityColumn ?? output.LogProbabilityColumn,
            },
        };
        var description = d.WithHead(spec);
        // The copy is built under a private random stream: building draws initial weights, which must not advance the
        // stream of a run training at the same time (they are overwritten by the trained ones anyway).
        using var random = new TrainingRandom(0);
        var copy = random.Use(() => d.Architecture.Build(spec.OutputSize, null));
        var device = network.parameters().First().device;
        model.CopyWeightsTo(copy);
        copy.to(device);
        return new DeepTransformer(description, copy, device) { ScoringBatchSize = model.ScoringBatchSize };
    }

    /// <summary>
    /// Exports a trained sequence-to-sequence model as two ONNX graphs, the encoder and one decoder step (each written
    /// atomically); the decoding loop (greedy or beam search) stays with the caller — see docs/seq2seq.md for the driver loop.
    /// </summary>
    /// <param name="model">A trained sequence-to-sequence model.</param>
    /// <param name="encoderPath">Where the encoder graph goes.</param>
    /// <param name="decoderStepPath">Where the one-step decoder graph goes.</param>
    /// <param name="options">Opset and metadata.</param>
    public static void ExportSeq2SeqToOnnx(this DeepTransformer model, string encoderPath, string decoderStepPath, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(encoderPath);
        ArgumentException.ThrowIfNullOrEmpty(decoderStepPath);
        Seq2SeqOnnx.Export(Seq2SeqNetworkOf(model), encoderPath, decoderStepPath, options);
    }

    /// <summary>The trained network of a sequence-to-sequence model (for decoding with attention weights, or inspection).</summary>
    /// <param name="model">A trained sequence-to-sequence model.</param>
    public static Seq2SeqNetwork Seq2SeqNetworkOf(this DeepTransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Network as Seq2SeqNetwork ?? throw new ArgumentException(
            $"This is a {model.Kind} model; only a sequence-to-sequence model (Trainers.Seq2Seq) has a Seq2SeqNetwork.", nameof(model));
    }
}
