using MLNetDeep.Models.Custom;
using MLNetDeep.Optimizers;

namespace MLNetDeep.Benchmarks;

/// <summary>
/// The reference CNN written as a plain TorchSharp nn.Sequential and trained through <c>Trainers.CustomModule</c>, against
/// the raw TorchSharp loop over the same network: the cost of bringing your own module (the wrapper's reshape and output
/// check, the engine) compared with the `cnn` benchmark's built-in family.
/// </summary>
public sealed class CustomModuleBenchmark : IBenchmark
{
    public string Name => "custom";
    public string Description => "reference CNN as a custom nn.Sequential module: estimator vs raw TorchSharp loop (train and batched inference), test accuracy [--train N --epochs E --test N]";

    public int Run(string[] args)
    {
        CustomModules.Register("benchmarks.reference-cnn", _ => CnnBenchmark.ReferenceCnn());
        return CnnBenchmark.RunAgainstRaw("custom", "reference CNN as a custom module", args, (ml, epochs, batch, seed, scoringBatch) =>
            ml.MulticlassClassification.Trainers.CustomModule(new CustomModuleOptions
            {
                ModuleName = "benchmarks.reference-cnn",
                InputShape = new[] { 1, 28, 28 },
                Epochs = epochs, BatchSize = batch, Seed = seed, ScoringBatchSize = scoringBatch,
                Optimizer = new Adam { LearningRate = 1e-3 },
            }));
    }
}
