using Microsoft.ML;
using MLNetDeep.MLNetInternals;
using MLNetDeep.Optimizers;
using MLNetDeep.Tasks;

namespace MLNetDeep.Models.Dense;

/// <summary>
/// Catalog entry points for the dense (MLP) trainers: a fully connected network on a known-size numeric feature vector,
/// e.g. <c>mlContext.MulticlassClassification.Trainers.Mlp(hiddenSizes: new[] { 256, 256 })</c> after
/// <c>Concatenate</c> and <c>NormalizeMeanVariance</c>.
/// </summary>
public static class MlpCatalogExtensions
{
    /// <summary>An MLP multiclass classifier (key label; Score = class probabilities, PredictedLabel = key).</summary>
    /// <param name="catalog">mlContext.MulticlassClassification.Trainers.</param>
    /// <param name="hiddenSizes">Units of each hidden layer, input side first (null = [128, 128]; empty = softmax regression).</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="featureColumnName">Known-size numeric vector column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step (1 = SGD, TrainerOptions.FullBatch = full-batch GD).</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static MlpTrainer Mlp(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, int[]? hiddenSizes = null,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Mlp(catalog, Plain(hiddenSizes, labelColumnName, featureColumnName, exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>An MLP multiclass classifier with full options.</summary>
    public static MlpTrainer Mlp(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, MlpOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.MulticlassClassification);

    /// <summary>An MLP binary classifier (Boolean label; Score = margin, Probability, PredictedLabel).</summary>
    /// <param name="catalog">mlContext.BinaryClassification.Trainers.</param>
    /// <param name="hiddenSizes">Units of each hidden layer, input side first (null = [128, 128]; empty = logistic regression).</param>
    /// <param name="labelColumnName">Boolean label column.</param>
    /// <param name="featureColumnName">Known-size numeric vector column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static MlpTrainer Mlp(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, int[]? hiddenSizes = null,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Mlp(catalog, Plain(hiddenSizes, labelColumnName, featureColumnName, exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>An MLP binary classifier with full options.</summary>
    public static MlpTrainer Mlp(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, MlpOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.BinaryClassification);

    /// <summary>An MLP regressor (Single label, standardised for training; Score = prediction in the label's units).</summary>
    /// <param name="catalog">mlContext.Regression.Trainers.</param>
    /// <param name="hiddenSizes">Units of each hidden layer, input side first (null = [128, 128]; empty = linear regression).</param>
    /// <param name="labelColumnName">Single label column.</param>
    /// <param name="featureColumnName">Known-size numeric vector column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static MlpTrainer Mlp(this RegressionCatalog.RegressionTrainers catalog, int[]? hiddenSizes = null,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Mlp(catalog, Plain(hiddenSizes, labelColumnName, featureColumnName, exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>An MLP regressor with full options.</summary>
    public static MlpTrainer Mlp(this RegressionCatalog.RegressionTrainers catalog, MlpOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.Regression);

    private static MlpOptions Plain(int[]? hiddenSizes, string label, string features, string? weight, int epochs, int batchSize, double learningRate)
    {
        var o = new MlpOptions
        {
            LabelColumnName = label,
            FeatureColumnName = features,
            ExampleWeightColumnName = weight,
            Epochs = epochs,
            BatchSize = batchSize,
            Optimizer = new Adam { LearningRate = learningRate },
        };
        if (hiddenSizes is not null) o.HiddenSizes = new List<int>(hiddenSizes);
        return o;
    }
}
