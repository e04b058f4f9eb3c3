using Microsoft.ML;
using MLNetDeep.Models;
using MLNetDeep.Models.Cnn;
using MLNetDeep.Optimizers;

namespace MLNetDeep.Tests.Support;

/// <summary>Small, fast CNN configurations for tests that check behaviour rather than accuracy.</summary>
public static class Tiny
{
    /// <summary>One 8-filter conv block with max pooling and a 32-unit head: about a second per epoch on 1,000 images.</summary>
    public static CnnOptions Options(int epochs = 1, int batchSize = 64, int seed = 0) => new()
    {
        ImageShape = new ImageShape(1, 28, 28),
        Layers = new() { new ConvBlock(8, 3, PoolingKind.Max) { PoolSize = 4 } },
        Head = new DenseHead { HiddenSizes = new() { 32 }, Dropout = 0.1, InputDropout = 0 },
        Epochs = epochs,
        BatchSize = batchSize,
        Seed = seed,
        Optimizer = new Adam { LearningRate = 3e-3 },
    };

    /// <summary>MapValueToKey("Label") → CNN multiclass.</summary>
    public static IEstimator<ITransformer> Multiclass(MLContext ml, CnnOptions options) =>
        ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.Cnn(options));
}

/// <summary>Chain helpers for tests.</summary>
public static class ChainExtensions
{
    /// <summary>MLNetDeep's transformer in a fitted chain.</summary>
    public static Scoring.DeepTransformer Deep(this ITransformer model) => Scoring.ModelExtensions.GetDeepTransformer(model);

    /// <summary>The first transformer of a chain (the MapValueToKey in Tiny.Multiclass pipelines), flattened.</summary>
    public static ITransformer First(this ITransformer model) => model is IEnumerable<ITransformer> c ? c.First().First() : model;
}
