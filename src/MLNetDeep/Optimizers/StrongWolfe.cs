using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Optimizers;

/// <summary>
/// The strong-Wolfe line search of PyTorch's LBFGS (<c>torch.optim.lbfgs._strong_wolfe</c>, 1.13, itself a port of
/// Torch7's <c>lswolfe.lua</c>), decision for decision: bracket a step satisfying the strong Wolfe conditions
///   f(t) ≤ f(0) + c1·t·f'(0)   and   |f'(t)| ≤ −c2·f'(0)
/// by extrapolation (cubic interpolation between 1.01·t and 10·t), then zoom into the bracket by safeguarded cubic
/// interpolation. At most <c>maxEvaluations</c> (25) evaluations; the best point found is returned.
/// </summary>
internal static class StrongWolfe
{
    public const double C1 = 1e-4, C2 = 0.9;
    public const int MaxEvaluations = 25;

    /// <summary>The accepted step, its loss and gradient, and the evaluations used.</summary>
    public readonly record struct Result(double Step, double Loss, Tensor Gradient, int Evaluations);

    /// <summary>
    /// Searches along <paramref name="d"/> from the current point (loss <paramref name="f"/>, gradient <paramref name="g"/>,
    /// directional derivative <paramref name="gtd"/> &lt; 0), starting with step <paramref name="t"/>.
    /// <paramref name="evaluate"/>(t, d) returns the loss and flat gradient at x + t·d (and leaves the parameters at x).
    /// </summary>
    public static Result Search(Func<double, Tensor, (double Loss, Tensor Gradient)> evaluate, double t, Tensor d,
        double f, Tensor g, double gtd, double toleranceChange)
    {
        using var _ = no_grad();
        double dNorm = d.abs().max().ToDouble();
        g = g.clone();
        var (fNew, gNew) = evaluate(t, d);
        int evaluations = 1;
        double gtdNew = gNew.dot(d).ToDouble();

        // Bracketing phase: find an interval containing a point satisfying the Wolfe conditions.
        double tPrev = 0, fPrev = f, gtdPrev = gtd;
        var gPrev = g;
        bool done = false;
        int iteration = 0;
        double[] bracket = Array.Empty<double>(), bracketF = Array.Empty<double>(), bracketGtd = Array.Empty<double>();
        Tensor[] bracketG = Array.Empty<Tensor>();
        while (iteration < MaxEvaluations)
        {
            if (fNew > f + C1 * t * gtd || (iteration > 1 && fNew >= fPrev))
            {
                (bracket, bracketF, bracketG, bracketGtd) = (new[] { tPrev, t }, new[] { fPrev, fNew }, new[] { gPrev, gNew.clone() }, new[] { gtdPrev, gtdNew });
                break;
            }
            if (Math.Abs(gtdNew) <= -C2 * gtd)
            {
                (bracket, bracketF, bracketG) = (new[] { t }, new[] { fNew }, new[] { gNew });
                done = true;
                break;
            }
            if (gtdNew >= 0)
            {
                (bracket, bracketF, bracketG, bracketGtd) = (new[] { tPrev, t }, new[] { fPrev, fNew }, new[] { gPrev, gNew.clone() }, new[] { gtdPrev, gtdNew });
                break;
            }
            // Extrapolate: the cubic's minimiser, kept in [t + 0.01·(t − tPrev), 10·t].
            double minStep = t + 0.01 * (t - tPrev), maxStep = t * 10, previous = t;
            t = CubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, (minStep, maxStep));
            tPrev = previous;
            fPrev = fNew;
            gPrev = gNew.clone();
            gtdPrev = gtdNew;
            (fNew, gNew) = evaluate(t, d);
            evaluations++;
            gtdNew = gNew.dot(d).ToDouble();
            iteration++;
        }
        if (iteration == MaxEvaluations)
        {
            (bracket, bracketF, bracketG) = (new[] { 0, t }, new[] { f, fNew }, new[] { g, gNew });
        }

        // Zoom phase: shrink the bracket until a point satisfies the conditions.
        bool insufficientProgress = false;
        int low = bracketF[0] <= bracketF[^1] ? 0 : 1, high = 1 - low;
        while (!done && iteration < MaxEvaluations)
        {
            if (Math.Abs(bracket[1] - bracket[0]) * dNorm < toleranceChange) break; // the bracket is too small
            t = CubicInterpolate(bracket[0], bracketF[0], bracketGtd[0], bracket[1], bracketF[1], bracketGtd[1], null);

            // If t lands within 10% of the bracket's length of an end, and did so last time too (or lies outside),
            // move it to 10% away from the nearer end.
            double max = Math.Max(bracket[0], bracket[1]), min = Math.Min(bracket[0], bracket[1]);
            double eps = 0.1 * (max - min);
            if (Math.Min(max - t, t - min) < eps)
            {
                if (insufficientProgress || t >= max || t <= min)
                {
                    t = Math.Abs(t - max) < Math.Abs(t - min) ? max - eps : min + eps;
                    insufficientProgress = false;
                }
                else insufficientProgress = true;
            }
            else insufficientProgress = false;

            (fNew, gNew) = evaluate(t, d);
            evaluations++;
            gtdNew = gNew.dot(d).ToDouble();
            iteration++;

            if (fNew > f + C1 * t * gtd || fNew >= bracketF[low])
            {
                // Armijo condition not satisfied, or not lower than the lowest point: t becomes the high end.
                (bracket[high], bracketF[high], bracketG[high], bracketGtd[high]) = (t, fNew, gNew.clone(), gtdNew);
                (low, high) = bracketF[0] <= bracketF[1] ? (0, 1) : (1, 0);
            }
            else
            {
                if (Math.Abs(gtdNew) <= -C2 * gtd) done = true; // Wolfe conditions satisfied
                else if (gtdNew * (bracket[high] - bracket[low]) >= 0)
                {
                    // The old low end becomes the high end.
                    (bracket[high], bracketF[high], bracketG[high], bracketGtd[high]) = (bracket[low], bracketF[low], bracketG[low], bracketGtd[low]);
                }
                (bracket[low], bracketF[low], bracketG[low], bracketGtd[low]) = (t, fNew, gNew.clone(), gtdNew);
            }
        }
        return new Result(bracket[low], bracketF[low], bracketG[low], evaluations);
    }

    /// <summary>
    /// The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to <paramref name="bounds"/>
    /// (default: between x1 and x2); the bounds' midpoint when the cubic has no minimiser.
    /// </summary>
    public static double CubicInterpolate(double x1, double f1, double g1, double x2, double f2, double g2, (double Min, double Max)? bounds)
    {
        var (lo, hi) = bounds ?? (x1 <= x2 ? (x1, x2) : (x2, x1));
        double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
        double d2Square = d1 * d1 - g1 * g2;
        if (d2Square < 0) return (lo + hi) / 2;
        double d2 = Math.Sqrt(d2Square);
        double minPos = x1 <= x2
            ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
            : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
        return Math.Min(Math.Max(minPos, lo), hi);
    }
}
