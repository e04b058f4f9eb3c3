using Microsoft.ML;
using MLNetDeep.MLNetInternals;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using MLNetDeep.Training;
using MLNetDeep.Tasks;

namespace MLNetDeep.Models.Sequence;

/// <summary>
/// Catalog entry points for the recurrent sequence trainers. <c>Lstm</c>, <c>Gru</c> and <c>Rnn</c> take plain arguments
/// (as Keras' <c>LSTM</c>, <c>GRU</c>, <c>SimpleRNN</c> layers followed by a dense output layer); <c>Sequence</c> takes
/// <see cref="SequenceOptions"/> (cell, stacking, summary, head, clipping, ...); <c>SequenceTagging</c> predicts one label per step.
/// </summary>
public static class SequenceCatalogExtensions
{
    /// <summary>An LSTM multiclass classifier (key label; Score = class probabilities, PredictedLabel = key): recurrent layer(s) → last state → linear output layer.</summary>
    /// <param name="catalog">The trainers catalog.</param>
    /// <param name="input">What the feature column holds: <c>new NumericSequence(featuresPerStep)</c> or <c>new TokenSequence(embeddingSize)</c>.</param>
    /// <param name="hiddenSize">Units per recurrent layer.</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="bidirectional">Read each sequence in both directions.</param>
    /// <param name="labelColumnName">Label column.</param>
    /// <param name="featureColumnName">Sequence column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static SequenceTrainer Lstm(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, SequenceInput input,
        int hiddenSize = 128, int layers = 1, bool bidirectional = false,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Sequence(catalog, Plain(input, RecurrentCell.Lstm, RnnNonlinearity.Tanh, hiddenSize, layers, bidirectional, labelColumnName, featureColumnName,
            exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A GRU multiclass classifier (key label; Score = class probabilities, PredictedLabel = key): recurrent layer(s) → last state → linear output layer.</summary>
    /// <param name="catalog">The trainers catalog.</param>
    /// <param name="input">What the feature column holds: <c>new NumericSequence(featuresPerStep)</c> or <c>new TokenSequence(embeddingSize)</c>.</param>
    /// <param name="hiddenSize">Units per recurrent layer.</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="bidirectional">Read each sequence in both directions.</param>
    /// <param name="labelColumnName">Label column.</param>
    /// <param name="featureColumnName">Sequence column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static SequenceTrainer Gru(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, SequenceInput input,
        int hiddenSize = 128, int layers = 1, bool bidirectional = false,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Sequence(catalog, Plain(input, RecurrentCell.Gru, RnnNonlinearity.Tanh, hiddenSize, layers, bidirectional, labelColumnName, featureColumnName,
            exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A plain (Elman) RNN multiclass classifier (key label; Score = class probabilities, PredictedLabel = key): recurrent layer(s) → last state → linear output layer.</summary>
    /// <param name="catalog">The trainers catalog.</param>
    /// <param name="input">What the feature column holds: <c>new NumericSequence(featuresPerStep)</c> or <c>new TokenSequence(embeddingSize)</c>.</param>
    /// <param name="hiddenSize">Units per recurrent layer.</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="bidirectional">Read each sequence in both directions.</param>
    /// <param name="nonlinearity">Tanh (default) or ReLU.</param>
    /// <param name="labelColumnName">Label column.</param>
    /// <param name="featureColumnName">Sequence column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static SequenceTrainer Rnn(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, SequenceInput input,
        int hiddenSize = 128, int layers = 1, bool bidirectional = false, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Sequence(catalog, Plain(input, RecurrentCell.Rnn, nonlinearity, hiddenSize, layers, bidirectional, labelColumnName, featureColumnName,
            exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A recurrent multiclass classifier (key label; Score = class probabilities, PredictedLabel = key), with full options (cell type in <see cref="SequenceOptions.Cell"/>).</summary>
    public static SequenceTrainer Sequence(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, SequenceOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.MulticlassClassification);

    /// <summary>An LSTM binary classifier (Boolean label; Score = margin, Probability, PredictedLabel): recurrent layer(s) → last state → linear output layer.</summary>
    /// <param name="catalog">The trainers catalog.</param>
    /// <param name="input">What the feature column holds: <c>new NumericSequence(featuresPerStep)</c> or <c>new TokenSequence(embeddingSize)</c>.</param>
    /// <param name="hiddenSize">Units per recurrent layer.</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="bidirectional">Read each sequence in both directions.</param>
    /// <param name="labelColumnName">Label column.</param>
    /// <param name="featureColumnName">Sequence column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static SequenceTrainer Lstm(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, SequenceInput input,
        int hiddenSize = 128, int layers = 1, bool bidirectional = false,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Sequence(catalog, Plain(input, RecurrentCell.Lstm, RnnNonlinearity.Tanh, hiddenSize, layers, bidirectional, labelColumnName, featureColumnName,
            exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A GRU binary classifier (Boolean label; Score = margin, Probability, PredictedLabel): recurrent layer(s) → last state → linear output layer.</summary>
    /// <param name="catalog">The trainers catalog.</param>
    /// <param name="input">What the feature column holds: <c>new NumericSequence(featuresPerStep)</c> or <c>new TokenSequence(embeddingSize)</c>.</param>
    /// <param name="hiddenSize">Units per recurrent layer.</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="bidirectional">Read each sequence in both directions.</param>
    /// <param name="labelColumnName">Label column.</param>
    /// <param name="featureColumnName">Sequence column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static SequenceTrainer Gru(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, SequenceInput input,
        int hiddenSize = 128, int layers = 1, bool bidirectional = false,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Sequence(catalog, Plain(input, RecurrentCell.Gru, RnnNonlinearity.Tanh, hiddenSize, layers, bidirectional, labelColumnName, featureColumnName,
            exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A plain (Elman) RNN binary classifier (Boolean label; Score = margin, Probability, PredictedLabel): recurrent layer(s) → last state → linear output layer.</summary>
    /// <param name="catalog">The trainers catalog.</param>
    /// <param name="input">What the feature column holds: <c>new NumericSequence(featuresPerStep)</c> or <c>new TokenSequence(embeddingSize)</c>.</param>
    /// <param name="hiddenSize">Units per recurrent layer.</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="bidirectional">Read each sequence in both directions.</param>
    /// <param name="nonlinearity">Tanh (default) or ReLU.</param>
    /// <param name="labelColumnName">Label column.</param>
    /// <param name="featureColumnName">Sequence column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static SequenceTrainer Rnn(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, SequenceInput input,
        int hiddenSize = 128, int layers = 1, bool bidirectional = false, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Sequence(catalog, Plain(input, RecurrentCell.Rnn, nonlinearity, hiddenSize, layers, bidirectional, labelColumnName, featureColumnName,
            exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A recurrent binary classifier (Boolean label; Score = margin, Probability, PredictedLabel), with full options (cell type in <see cref="SequenceOptions.Cell"/>).</summary>
    public static SequenceTrainer Sequence(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, SequenceOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.BinaryClassification);

    /// <summary>An LSTM regressor (Single label; Score = prediction): recurrent layer(s) → last state → linear output layer.</summary>
    /// <param name="catalog">The trainers catalog.</param>
    /// <param name="input">What the feature column holds: <c>new NumericSequence(featuresPerStep)</c> or <c>new TokenSequence(embeddingSize)</c>.</param>
    /// <param name="hiddenSize">Units per recurrent layer.</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="bidirectional">Read each sequence in both directions.</param>
    /// <param name="labelColumnName">Label column.</param>
    /// <param name="featureColumnName">Sequence column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static SequenceTrainer Lstm(this RegressionCatalog.RegressionTrainers catalog, SequenceInput input,
        int hiddenSize = 128, int layers = 1, bool bidirectional = false,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Sequence(catalog, Plain(input, RecurrentCell.Lstm, RnnNonlinearity.Tanh, hiddenSize, layers, bidirectional, labelColumnName, featureColumnName,
            exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A GRU regressor (Single label; Score = prediction): recurrent layer(s) → last state → linear output layer.</summary>
    /// <param name="catalog">The trainers catalog.</param>
    /// <param name="input">What the feature column holds: <c>new NumericSequence(featuresPerStep)</c> or <c>new TokenSequence(embeddingSize)</c>.</param>
    /// <param name="hiddenSize">Units per recurrent layer.</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="bidirectional">Read each sequence in both directions.</param>
    /// <param name="labelColumnName">Label column.</param>
    /// <param name="featureColumnName">Sequence column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static SequenceTrainer Gru(this RegressionCatalog.RegressionTrainers catalog, SequenceInput input,
        int hiddenSize = 128, int layers = 1, bool bidirectional = false,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Sequence(catalog, Plain(input, RecurrentCell.Gru, RnnNonlinearity.Tanh, hiddenSize, layers, bidirectional, labelColumnName, featureColumnName,
            exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A plain (Elman) RNN regressor (Single label; Score = prediction): recurrent layer(s) → last state → linear output layer.</summary>
    /// <param name="catalog">The trainers catalog.</param>
    /// <param name="input">What the feature column holds: <c>new NumericSequence(featuresPerStep)</c> or <c>new TokenSequence(embeddingSize)</c>.</param>
    /// <param name="hiddenSize">Units per recurrent layer.</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="bidirectional">Read each sequence in both directions.</param>
    /// <param name="nonlinearity">Tanh (default) or ReLU.</param>
    /// <param name="labelColumnName">Label column.</param>
    /// <param name="featureColumnName">Sequence column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static SequenceTrainer Rnn(this RegressionCatalog.RegressionTrainers catalog, SequenceInput input,
        int hiddenSize = 128, int layers = 1, bool bidirectional = false, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Sequence(catalog, Plain(input, RecurrentCell.Rnn, nonlinearity, hiddenSize, layers, bidirectional, labelColumnName, featureColumnName,
            exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A recurrent regressor (Single label; Score = prediction), with full options (cell type in <see cref="SequenceOptions.Cell"/>).</summary>
    public static SequenceTrainer Sequence(this RegressionCatalog.RegressionTrainers catalog, SequenceOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.Regression);

    /// <summary>
    /// A sequence tagger: one key label per step (the label column is a key vector aligned with the sequence, e.g.
    /// tags tokenized like the text and mapped with MapValueToKey). Score = per-step class probabilities (steps × classes,
    /// step-major); PredictedLabel = a key vector with one key per step. Evaluate with <c>EvaluateSequenceTagging</c>.
    /// </summary>
    public static SequenceTrainer SequenceTagging(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, SequenceOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.SequenceTagging);

    /// <summary>A sequence tagger with plain arguments: bidirectional recurrent layer(s) → per-step linear output layer.</summary>
    /// <param name="catalog">mlContext.MulticlassClassification.Trainers.</param>
    /// <param name="input">What the feature column holds (usually <c>new TokenSequence(embeddingSize)</c>).</param>
    /// <param name="cell">Recurrent cell.</param>
    /// <param name="hiddenSize">Units per recurrent layer and direction.</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="bidirectional">Read each sequence in both directions (usual for tagging: a tag depends on both sides).</param>
    /// <param name="labelColumnName">Key vector column with one label per step.</param>
    /// <param name="featureColumnName">Sequence column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static SequenceTrainer SequenceTagging(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, SequenceInput input,
        RecurrentCell cell = RecurrentCell.Lstm, int hiddenSize = 64, int layers = 1, bool bidirectional = true,
        string labelColumnName = "Label", string featureColumnName = "Features", int epochs = 10, int batchSize = 32, double learningRate = 1e-3)
        => SequenceTagging(catalog, Plain(input, cell, RnnNonlinearity.Tanh, hiddenSize, layers, bidirectional, labelColumnName, featureColumnName,
            null, epochs, batchSize, learningRate));

    private static SequenceOptions Plain(SequenceInput input, RecurrentCell cell, RnnNonlinearity nonlinearity, int hiddenSize, int layers, bool bidirectional,
        string label, string features, string? weight, int epochs, int batchSize, double learningRate) => new()
    {
        Input = input,
        Cell = cell,
        Nonlinearity = nonlinearity,
        HiddenSize = hiddenSize,
        Layers = layers,
        Bidirectional = bidirectional,
        LabelColumnName = label,
        FeatureColumnName = features,
        ExampleWeightColumnName = weight,
        Epochs = epochs,
        BatchSize = batchSize,
        Optimizer = new Adam { LearningRate = learningRate },
    };
}
