using Microsoft.ML;

namespace MLNetDeep.Scoring;

/// <summary>Helpers for finding MLNetDeep's transformer inside fitted ML.NET pipelines.</summary>
public static class ModelExtensions
{
    /// <summary>
    /// The first <see cref="DeepTransformer"/> in a fitted model, searching nested transformer chains
    /// (e.g. the CNN in MapValueToKey → Cnn → MapKeyToValue). Throws when there is none.
    /// </summary>
    public static DeepTransformer GetDeepTransformer(this ITransformer model) =>
        Find(model) ?? throw new InvalidOperationException(
            $"The model ({model.GetType().Name}) contains no MLNetDeep DeepTransformer.");

    private static DeepTransformer? Find(ITransformer model) => model switch
    {
        DeepTransformer d => d,
        IEnumerable<ITransformer> chain => chain.Select(Find).FirstOrDefault(t => t is not null),
        _ => null,
    };
}
