namespace MLNetDeep.Sweeps;

/// <summary>Whether a larger or a smaller metric is better.</summary>
public enum OptimizationDirection
{
    /// <summary>Larger is better (accuracy, AUC, F1, R²).</summary>
    Maximize,
    /// <summary>Smaller is better (log-loss, RMSE, MAE).</summary>
    Minimize,
}

/// <summary>
/// Proposes the parameters of the next trial from every trial so far. Tuners are deterministic given the
/// history, the trial number and their seed, which is what lets a resumed or multi-worker sweep continue
/// exactly where it stopped.
/// </summary>
public interface ITuner
{
    /// <summary>
    /// The next trial's parameters, or null when the tuner has nothing left to propose (a finished grid).
    /// <paramref name="history"/> holds every trial so far, running ones included (with their parameters).
    /// </summary>
    TrialParameters? Suggest(SearchSpace space, IReadOnlyList<TrialRecord> history, int trialNumber, OptimizationDirection direction);
}

/// <summary>Every point of a grid, in order, each exactly once (across workers and resumes too).</summary>
public sealed class GridTuner : ITuner
{
    /// <summary>Points per numeric range (ends included, evenly spaced in the range's scale); choices use all values. Default 3.</summary>
    public int PointsPerRange { get; init; } = 3;

    /// <summary>Grid size for <paramref name="space"/>.</summary>
    public long Size(SearchSpace space) => space.Aggregate(1L, (a, d) => a * d.Value.GridValues(PointsPerRange).Count);

    /// <inheritdoc />
    public TrialParameters? Suggest(SearchSpace space, IReadOnlyList<TrialRecord> history, int trialNumber, OptimizationDirection direction)
    {
        if (PointsPerRange < 1) throw new ArgumentOutOfRangeException(nameof(PointsPerRange), PointsPerRange, $"GridTuner.PointsPerRange must be >= 1. Received: {PointsPerRange}");
        var seen = history.Select(t => t.Parameters.ToJson()).ToHashSet();
        return space.Grid(PointsPerRange).FirstOrDefault(p => !seen.Contains(p.ToJson()));
    }
}

/// <summary>Independent uniform draws (log-uniform on log ranges); trial k's draw depends only on the seed and k.</summary>
public sealed class RandomTuner : ITuner
{
    /// <summary>Seed. Default 0.</summary>
    public int Seed { get; init; }

    /// <inheritdoc />
    public TrialParameters? Suggest(SearchSpace space, IReadOnlyList<TrialRecord> history, int trialNumber, OptimizationDirection direction)
        => space.Sample(new Random(TunerRandom.Seed(Seed, trialNumber)));
}

/// <summary>
/// Tree-structured Parzen Estimator (Bergstra et al., 2011; independent dimensions, as Optuna's default): after
/// <see cref="StartupTrials"/> random trials, splits the finished trials into the best γ and the rest, fits a
/// Parzen density to each per dimension (in the dimension's unit scale, log for log ranges; add-one counts for
/// choices), draws <see cref="Candidates"/> whole candidates from the good densities and keeps the one maximising
/// Σ log l(x)/g(x).
/// Pruned trials count as worse than every completed one (the further they got, the better), failed ones as worst.
/// </summary>
public sealed class TpeTuner : ITuner
{
    /// <summary>Seed. Default 0.</summary>
    public int Seed { get; init; }
    /// <summary>Random trials before the model is used. Default 10.</summary>
    public int StartupTrials { get; init; } = 10;
    /// <summary>Fraction of finished trials that form the "good" density (at least 1, at most 25). Default 0.1 (Optuna's).</summary>
    public double Gamma { get; init; } = 0.1;
    /// <summary>Candidates drawn per suggestion. Default 24.</summary>
    public int Candidates { get; init; } = 24;
    /// <summary>
    /// Count trials still running (on other workers) as bad observations ("constant liar"), so parallel workers don't all
    /// propose the same region. Default true; no effect with one worker.
    /// </summary>
    public bool ConstantLiar { get; init; } = true;

    /// <inheritdoc />
    public TrialParameters? Suggest(SearchSpace space, IReadOnlyList<TrialRecord> history, int trialNumber, OptimizationDirection direction)
    {
        if (!(Gamma > 0 && Gamma < 1)) throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, $"TpeTuner.Gamma must be in (0, 1). Received: {Gamma}");
        var rng = new Random(TunerRandom.Seed(Seed, trialNumber));
        var ranked = Rank(history, direction);
        if (ranked.Count < Math.Max(StartupTrials, 2)) return space.Sample(rng);

        int nGood = Math.Clamp((int)Math.Ceiling(Gamma * ranked.Count), 1, 25);
        var good = ranked.Take(nGood).ToList();
        var bad = ranked.Skip(nGood).ToList();
        if (ConstantLiar) bad.AddRange(history.Where(t => t.Status is TrialStatus.Running or TrialStatus.Pending));
        // Optuna-style: draw whole candidates from the good densities, score each by the sum over dimensions of
        // log l(x) - log g(x) (independent dimensions), keep the best.
        var dims = space.Select(kv => kv.Value).ToArray();
        var names = space.Names;
        var models = new (Parzen? L, Parzen? G, double[]? Lc, double[]? Gc)[dims.Length];
        for (int d = 0; d < dims.Length; d++)
        {
            var name = names[d];
            var gx = good.Where(t => t.Parameters.ContainsKey(name)).Select(t => dims[d].ToUnit(t.Parameters[name])).ToArray();
            var bx = bad.Where(t => t.Parameters.ContainsKey(name)).Select(t => dims[d].ToUnit(t.Parameters[name])).ToArray();
            models[d] = dims[d] is ChoiceDimension c
                ? (null, null, CategoryWeights(c.Values.Count, gx), CategoryWeights(c.Values.Count, bx))
                : (Parzen.Fit(gx), Parzen.Fit(bx), null, null);
        }
        double[] u = new double[dims.Length], best = new double[dims.Length];
        double bestScore = double.NegativeInfinity;
        for (int i = 0; i < Math.Max(Candidates, 1); i++)
        {
            double score = 0;
            for (int d = 0; d < dims.Length; d++)
            {
                var (l, g, lc, gc) = models[d];
                if (lc is not null)
                {
                    int k = lc.Length, idx = k - 1;
                    double r = rng.NextDouble(), acc = 0;
                    for (int j = 0; j < k; j++) { acc += lc[j]; if (r < acc) { idx = j; break; } }
                    u[d] = (idx + 0.5) / k;
                    score += Math.Log(lc[idx]) - Math.Log(gc![idx]);
                }
                else
                {
                    u[d] = l!.Sample(rng);
                    score += l.LogPdf(u[d]) - g!.LogPdf(u[d]);
                }
            }
            if (score > bestScore) { bestScore = score; Array.Copy(u, best, u.Length); }
        }
        u = best;
        return space.FromUnit(u);
    }

    /// <summary>Finished trials best first: completed by metric, then pruned (by epochs reached, then last metric), then failed.</summary>
    internal static List<TrialRecord> Rank(IReadOnlyList<TrialRecord> history, OptimizationDirection direction)
    {
        double Loss(double v) => direction == OptimizationDirection.Maximize ? -v : v;
        var completed = history.Where(t => t.Status == TrialStatus.Completed && t.Value is double v && double.IsFinite(v))
            .OrderBy(t => Loss(t.Value!.Value));
        var pruned = history.Where(t => t.Status == TrialStatus.Pruned && t.Intermediate.Count > 0)
            .OrderByDescending(t => t.Intermediate.Keys.Max()).ThenBy(t => Loss(t.Intermediate[t.Intermediate.Keys.Max()]));
        var failed = history.Where(t => t.Status == TrialStatus.Failed);
        return completed.Concat(pruned).Concat(failed).ToList();
    }

    private static double[] CategoryWeights(int k, double[] xs)
    {
        var w = Enumerable.Repeat(1.0, k).ToArray(); // add-one prior: an unseen choice keeps being tried
        foreach (var x in xs) w[Math.Clamp((int)(x * k), 0, k - 1)] += 1;
        double s = w.Sum();
        return w.Select(v => v / s).ToArray();
    }

    /// <summary>A mixture of Gaussians truncated to [0, 1]: a wide prior at 0.5 plus one kernel per observation.</summary>
    private sealed class Parzen
    {
        private double[] _mu = Array.Empty<double>();
        private double[] _sigma = Array.Empty<double>();

        public static Parzen Fit(double[] xs)
        {
            var mus = xs.Append(0.5).OrderBy(x => x).ToArray();
            int n = mus.Length;
            var sigma = new double[n];
            double minSigma = 1.0 / Math.Min(100, n + 1);
            for (int i = 0; i < n; i++)
            {
                double left = i > 0 ? mus[i] - mus[i - 1] : mus[i];
                double right = i < n - 1 ? mus[i + 1] - mus[i] : 1 - mus[i];
                sigma[i] = Math.Clamp(Math.Max(left, right), minSigma, 1.0);
            }
            // the prior kernel is wide
            int p = Array.IndexOf(mus, 0.5);
            if (p >= 0) sigma[p] = 1.0;
            return new Parzen { _mu = mus, _sigma = sigma };
        }

        public double Sample(Random rng)
        {
            int i = rng.Next(_mu.Length);
            for (int tries = 0; tries < 100; tries++)
            {
                double x = _mu[i] + _sigma[i] * Normal(rng);
                if (x >= 0 && x <= 1) return x;
            }
            return Math.Clamp(_mu[i], 0, 1);
        }

        public double LogPdf(double x)
        {
            double sum = 0;
            for (int i = 0; i < _mu.Length; i++)
            {
                double z = (x - _mu[i]) / _sigma[i];
                double mass = Phi((1 - _mu[i]) / _sigma[i]) - Phi((0 - _mu[i]) / _sigma[i]);
                sum += Math.Exp(-0.5 * z * z) / (_sigma[i] * Math.Sqrt(2 * Math.PI) * Math.Max(mass, 1e-12));
            }
            return Math.Log(Math.Max(sum / _mu.Length, 1e-300));
        }

        private static double Normal(Random rng)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }

        private static double Phi(double z) => 0.5 * (1 + Erf(z / Math.Sqrt(2)));

        private static double Erf(double x)
        {
            // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
            double t = 1 / (1 + 0.3275911 * Math.Abs(x));
            double y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
            return x >= 0 ? y : -y;
        }
    }
}

internal static class TunerRandom
{
    /// <summary>A seed that depends only on the tuner's seed and the trial number (stable across processes).</summary>
    public static int Seed(int seed, int trial) => unchecked((int)((uint)seed * 2654435761u ^ (uint)(trial + 1) * 40503u + 0x9E3779B9u));
}
