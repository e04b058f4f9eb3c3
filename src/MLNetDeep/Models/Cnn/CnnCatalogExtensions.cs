using Microsoft.ML;
using MLNetDeep.MLNetInternals;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;
using MLNetDeep.Training;
using MLNetDeep.Tasks;

namespace MLNetDeep.Models.Cnn;

/// <summary>Catalog entry points for the image CNN trainers.</summary>
public static class CnnCatalogExtensions
{
    /// <summary>A CNN multiclass classifier (key label; Score = class probabilities, PredictedLabel = key).</summary>
    /// <param name="catalog">mlContext.MulticlassClassification.Trainers.</param>
    /// <param name="imageShape">Channels × height × width of the feature vector.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="featureColumnName">Numeric vector column of the images.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step (1 = SGD, TrainerOptions.FullBatch = full-batch GD).</param>
    /// <param name="learningRate">Adam learning rate.</param>
    public static CnnTrainer Cnn(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ImageShape imageShape,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Cnn(catalog, Plain(imageShape, labelColumnName, featureColumnName, exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A CNN multiclass classifier with full options.</summary>
    public static CnnTrainer Cnn(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, CnnOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.MulticlassClassification);

    /// <summary>A CNN binary classifier (Boolean label; Score = margin, Probability, PredictedLabel).</summary>
    public static CnnTrainer Cnn(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, ImageShape imageShape,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Cnn(catalog, Plain(imageShape, labelColumnName, featureColumnName, exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A CNN binary classifier with full options.</summary>
    public static CnnTrainer Cnn(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, CnnOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.BinaryClassification);

    /// <summary>A CNN regressor (Single label; Score = prediction).</summary>
    public static CnnTrainer Cnn(this RegressionCatalog.RegressionTrainers catalog, ImageShape imageShape,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3)
        => Cnn(catalog, Plain(imageShape, labelColumnName, featureColumnName, exampleWeightColumnName, epochs, batchSize, learningRate));

    /// <summary>A CNN regressor with full options.</summary>
    public static CnnTrainer Cnn(this RegressionCatalog.RegressionTrainers catalog, CnnOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.Regression);

    private static CnnOptions Plain(ImageShape imageShape, string label, string features, string? weight, int epochs, int batchSize, double learningRate) => new()
    {
        ImageShape = imageShape,
        LabelColumnName = label,
        FeatureColumnName = features,
        ExampleWeightColumnName = weight,
        Epochs = epochs,
        BatchSize = batchSize,
        Optimizer = new Adam { LearningRate = learningRate },
    };
}
