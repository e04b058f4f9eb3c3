using Microsoft.ML.Data;

namespace MLNetDeep.Datasets;

/// <summary>One adding-problem row: <c>steps</c> × (value, marker), step-major, and the sum of the two marked values.</summary>
public sealed class AddingProblemRow
{
    /// <summary>[value₀, marker₀, value₁, marker₁, …]: values uniform in [0, 1), markers 1 on the two marked steps, else 0.</summary>
    [VectorType] public float[] Features { get; set; } = Array.Empty<float>();
    /// <summary>The sum of the two marked values.</summary>
    public float Label { get; set; }
}

/// <summary>
/// The adding problem (Hochreiter &amp; Schmidhuber, 1997): a synthetic long-memory task for recurrent nets. Exactly two
/// steps are marked, one in each half of the sequence, and the target is the sum of their values, so a model must
/// carry the first value across up to <c>steps</c> steps. Predicting the mean (1.0) scores an MSE of 1/6.
/// </summary>
public static class AddingProblem
{
    /// <summary>MSE of always predicting the mean target: the variance of a sum of two U(0,1) values.</summary>
    public const double MeanPredictorMse = 1.0 / 6;

    /// <summary><paramref name="rows"/> rows of <paramref name="steps"/> steps (2 features each), reproducible from <paramref name="seed"/>.</summary>
    public static List<AddingProblemRow> Generate(int rows, int steps, int seed)
    {
        if (rows <= 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"rows must be > 0. Received: rows={rows}");
        if (steps < 2) throw new ArgumentOutOfRangeException(nameof(steps), steps, $"steps must be >= 2 (one marked step in each half). Received: steps={steps}");
        var rng = new Random(seed);
        var result = new List<AddingProblemRow>(rows);
        for (int r = 0; r < rows; r++)
        {
            var x = new float[steps * 2];
            for (int t = 0; t < steps; t++) x[2 * t] = (float)rng.NextDouble();
            int a = rng.Next(steps / 2), b = steps / 2 + rng.Next(steps / 2);
            x[2 * a + 1] = 1;
            x[2 * b + 1] = 1;
            result.Add(new AddingProblemRow { Features = x, Label = x[2 * a] + x[2 * b] });
        }
        return result;
    }
}
