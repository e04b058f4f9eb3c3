using Microsoft.ML;
using MLNetDeep.MLNetInternals;
using MLNetDeep.Optimizers;
using MLNetDeep.Tasks;

namespace MLNetDeep.Models.Custom;

/// <summary>Catalog entry points for training your own TorchSharp modules (registered with <see cref="CustomModules"/>).</summary>
public static class CustomModuleCatalogExtensions
{
    /// <summary>A multiclass classifier around your module (key label; the module returns [B, classes] logits; Score = probabilities, PredictedLabel = key).</summary>
    /// <param name="catalog">mlContext.MulticlassClassification.Trainers.</param>
    /// <param name="moduleName">The name the module's factory is registered under.</param>
    /// <param name="inputShape">One row's shape as the module receives it (without the batch dimension), e.g. new[] { 1, 28, 28 }.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="featureColumnName">Known-size numeric vector column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step (1 = SGD, TrainerOptions.FullBatch = full-batch GD).</param>
    /// <param name="learningRate">Adam learning rate.</param>
    /// <param name="moduleOptions">The module's own options (the type it was registered with), or null.</param>
    public static CustomModuleTrainer CustomModule(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, string moduleName, int[] inputShape,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3, object? moduleOptions = null)
        => CustomModule(catalog, Plain(moduleName, inputShape, labelColumnName, featureColumnName, exampleWeightColumnName, epochs, batchSize, learningRate, moduleOptions));

    /// <summary>A multiclass classifier around your module, with full options.</summary>
    public static CustomModuleTrainer CustomModule(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, CustomModuleOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.MulticlassClassification);

    /// <summary>A binary classifier around your module (Boolean label; the module returns one margin per row, [B, 1] or [B]; Score, Probability, PredictedLabel).</summary>
    /// <param name="catalog">mlContext.BinaryClassification.Trainers.</param>
    /// <param name="moduleName">The name the module's factory is registered under.</param>
    /// <param name="inputShape">One row's shape as the module receives it (without the batch dimension).</param>
    /// <param name="labelColumnName">Boolean label column.</param>
    /// <param name="featureColumnName">Known-size numeric vector column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    /// <param name="moduleOptions">The module's own options, or null.</param>
    public static CustomModuleTrainer CustomModule(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, string moduleName, int[] inputShape,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3, object? moduleOptions = null)
        => CustomModule(catalog, Plain(moduleName, inputShape, labelColumnName, featureColumnName, exampleWeightColumnName, epochs, batchSize, learningRate, moduleOptions));

    /// <summary>A binary classifier around your module, with full options.</summary>
    public static CustomModuleTrainer CustomModule(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, CustomModuleOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.BinaryClassification);

    /// <summary>A regressor around your module (Single label, standardised for training; the module returns one value per row, [B, 1] or [B]; Score in label units).</summary>
    /// <param name="catalog">mlContext.Regression.Trainers.</param>
    /// <param name="moduleName">The name the module's factory is registered under.</param>
    /// <param name="inputShape">One row's shape as the module receives it (without the batch dimension).</param>
    /// <param name="labelColumnName">Single label column.</param>
    /// <param name="featureColumnName">Known-size numeric vector column.</param>
    /// <param name="exampleWeightColumnName">Optional Single weight column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    /// <param name="moduleOptions">The module's own options, or null.</param>
    public static CustomModuleTrainer CustomModule(this RegressionCatalog.RegressionTrainers catalog, string moduleName, int[] inputShape,
        string labelColumnName = "Label", string featureColumnName = "Features", string? exampleWeightColumnName = null,
        int epochs = 10, int batchSize = 64, double learningRate = 1e-3, object? moduleOptions = null)
        => CustomModule(catalog, Plain(moduleName, inputShape, labelColumnName, featureColumnName, exampleWeightColumnName, epochs, batchSize, learningRate, moduleOptions));

    /// <summary>A regressor around your module, with full options.</summary>
    public static CustomModuleTrainer CustomModule(this RegressionCatalog.RegressionTrainers catalog, CustomModuleOptions options)
        => new(MLNetBridge.GetEnvironment(catalog), options, PredictionKind.Regression);

    private static CustomModuleOptions Plain(string moduleName, int[] inputShape, string label, string features, string? weight,
        int epochs, int batchSize, double learningRate, object? moduleOptions) => new()
    {
        ModuleName = moduleName,
        InputShape = inputShape,
        LabelColumnName = label,
        FeatureColumnName = features,
        ExampleWeightColumnName = weight,
        Epochs = epochs,
        BatchSize = batchSize,
        Optimizer = new Adam { LearningRate = learningRate },
        ModuleOptions = moduleOptions,
    };
}
