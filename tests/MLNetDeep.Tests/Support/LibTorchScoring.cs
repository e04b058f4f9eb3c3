using Microsoft.ML;
using MLNetDeep.Inference;
using MLNetDeep.Scoring;

namespace MLNetDeep.Tests.Support;

/// <summary>
/// Export parity tests compare ONNX graphs with the network they were written from, so the expected values must come from
/// LibTorch: under the default <see cref="ScoringEngine.Auto"/> the transformer itself would score with ONNX Runtime on a
/// graph from the same exporter, and an exporter bug would be on both sides.
/// </summary>
public static class LibTorchScoring
{
    /// <summary>Sets every MLNetDeep model in <paramref name="model"/> (searching nested chains) to score with LibTorch; returns <paramref name="model"/>.</summary>
    public static T ScoredByLibTorch<T>(this T model) where T : ITransformer
    {
        foreach (var deep in All(model)) deep.ScoringEngine = ScoringEngine.LibTorch;
        return model;
    }

    private static IEnumerable<DeepTransformer> All(ITransformer model) => model switch
    {
        DeepTransformer d => new[] { d },
        IEnumerable<ITransformer> chain => chain.SelectMany(All),
        _ => Array.Empty<DeepTransformer>(),
    };
}
