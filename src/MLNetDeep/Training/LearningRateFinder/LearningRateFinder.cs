using System.Globalization;
using Microsoft.ML;
using MLNetDeep.Schedules;

namespace MLNetDeep.Training;

/// <summary>
/// The learning-rate range test (Smith, 2017; fastai's <c>lr_find</c>, Lightning's <c>Tuner.lr_find</c>): train from the
/// initial weights with a rate that rises exponentially every batch, record the loss, stop when it diverges, and suggest
/// the rate where the loss falls fastest.
/// </summary>
public static class LearningRateFinder
{
    /// <summary>
    /// Runs the range test on <paramref name="data"/> with <paramref name="trainer"/>'s options and returns the rates, the
    /// losses and the suggested rate. It trains a fresh network — the one a real <c>Fit</c> with the same seed starts from
    /// (and after the same pretraining or warm start) — with the trainer's optimizer, batch size, regularisation and
    /// training rows, on a copy of the options whose schedule is the rising rate; early stopping, checkpoints, diagnostics,
    /// validation and your callbacks are left out. Nothing is kept: the trainer, its options and any model are untouched,
    /// and the test's network and optimizer state are thrown away.
    /// </summary>
    /// <param name="trainer">Any MLNetDeep trainer (CNN, sequence, MLP, custom module, seq2seq).</param>
    /// <param name="data">Training rows, as for <c>Fit</c>.</param>
    /// <param name="options">Range, steps, smoothing and stop rule; null = fastai's defaults (1e-7 to 10 in 100 steps).</param>
    /// <example><code>
    /// var trainer = ml.MulticlassClassification.Trainers.Mlp(options);
    /// var test = trainer.FindLearningRate(train);
    /// options.Optimizer = new Adam { LearningRate = test.SuggestedRate };
    /// </code></example>
    public static LearningRateFinderResult FindLearningRate<TOptions>(this DeepTrainer<TOptions> trainer, IDataView data,
        LearningRateFinderOptions? options = null) where TOptions : TrainerOptions
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(data);
        var o = options ?? new LearningRateFinderOptions();
        o.Validate();
        // The test's own settings, read once: later edits to the options object don't change a test in progress.
        double min = o.MinRate, max = o.MaxRate;
        int steps = o.Steps;
        var copy = trainer.CopyOfOptions();
        copy.Seed = trainer.ResolveSeed(); // the MLContext's seed when the options have none: the initial weights are a real Fit's
        var recorder = new RangeTestCallback(steps, o.Smoothing, o.DivergenceFactor);
        copy.Epochs = steps + 1; // every epoch has at least one batch; the test stops itself after `steps`
        copy.LearningRateSchedule = new CustomSchedule((step, _, _) => RateAt(min, max, steps, step), "learning-rate range test");
        copy.Callbacks = new List<TrainingCallback> { recorder };
        copy.EarlyStopping = null;
        copy.Checkpoints = null;
        copy.Diagnostics = null;
        copy.OnEpochEnd = null;
        copy.ValidationData = null; // ValidationFraction stays: the test trains on the rows a real Fit trains on
        try
        {
            // No MLContext for the test's own run: its epochs are not the user's training, so they don't go to the log.
            using var model = trainer.Variant(copy, env: null).Fit(data);
        }
        catch (TrainingDivergedException e)
        {
            // a non-finite or exploding loss: the divergence guard ended the run (the recorder has the point)
            e.BestModel?.Dispose();
        }
        return recorder.Result(min, max);
    }

    /// <summary>The rate of batch <paramref name="step"/>: min·(max/min)^(step/(steps−1)), held at max after the last step.</summary>
    internal static double RateAt(double min, double max, int steps, long step) =>
        min * Math.Pow(max / min, Math.Min(step, steps - 1) / (double)(steps - 1));

    /// <summary>
    /// fastai's "steep" suggestion: the index of the most negative slope of the smoothed loss against log(rate), over the
    /// points left after dropping the first tenth of the planned steps and the last five (all points when fewer remain).
    /// Also the index of the lowest smoothed loss over the same points (fastai's "minimum", which it divides by 10).
    /// </summary>
    internal static (int Steepest, int Minimum) Suggest(IReadOnlyList<double> rates, IReadOnlyList<double> smoothed, int plannedSteps)
    {
        int n = 0;
        while (n < smoothed.Count && double.IsFinite(smoothed[n])) n++;
        if (n < 3)
            throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture,
                "The learning-rate range test has only {0} finite loss value(s) (the loss diverged at rate {1:G3}), too few for a suggestion. " +
                "Lower LearningRateFinderOptions.MinRate, or check the features are scaled.", n, rates.Count > 0 ? rates[Math.Min(n, rates.Count - 1)] : double.NaN));
        int start = plannedSteps / 10, end = n - 5;
        if (end - start < 2) (start, end) = (0, n);
        int steepest = start, minimum = start;
        double bestSlope = double.PositiveInfinity;
        for (int i = start; i < end; i++)
        {
            if (smoothed[i] < smoothed[minimum]) minimum = i;
            if (i + 1 >= end) break;
            double slope = (smoothed[i + 1] - smoothed[i]) / (Math.Log(rates[i + 1]) - Math.Log(rates[i]));
            if (slope < bestSlope) (bestSlope, steepest) = (slope, i);
        }
        return (steepest, minimum);
    }
}

/// <summary>
/// The range test's component of the loop: records each batch's rate and loss, smooths the loss (debiased running average),
/// and ends the run after the planned steps or when the smoothed loss passes the divergence factor times its best.
/// </summary>
internal sealed class RangeTestCallback : TrainingCallback
{
    private readonly int _steps;
    private readonly double _beta;
    private readonly double? _factor;
    private readonly List<double> _rates = new(), _losses = new(), _smoothed = new();
    private double _average, _best = double.PositiveInfinity;
    private int _finite;
    private string _reason = "";
    private bool _diverged;

    public RangeTestCallback(int steps, double beta, double? factor)
    {
        _steps = steps;
        _beta = beta;
        _factor = factor;
    }

    /// <summary>True once the test has ended the run itself.</summary>
    public bool Stopped { get; private set; }

    public override void OnBatchEnd(TrainingContext context, int batch, double loss)
    {
        if (Stopped) return;
        var ci = CultureInfo.InvariantCulture;
        _rates.Add(context.LearningRate);
        _losses.Add(loss);
        if (!double.IsFinite(loss))
        {
            _smoothed.Add(loss);
            End(context, string.Format(ci, "the loss became {0} at rate {1:G3} (step {2})", loss, context.LearningRate, _rates.Count), diverged: true);
            return;
        }
        _finite++;
        _average = _beta * _average + (1 - _beta) * loss;
        double smoothed = _average / (1 - Math.Pow(_beta, _finite));
        _smoothed.Add(smoothed);
        _best = Math.Min(_best, smoothed);
        if (_factor is double f && smoothed > f * _best)
            End(context, string.Format(ci, "the smoothed loss {0:G4} passed {1:G3} times its best ({2:G4}) at rate {3:G3} (step {4})",
                smoothed, f, _best, context.LearningRate, _rates.Count), diverged: true);
        else if (_rates.Count >= _steps) End(context, $"ran all {_steps} steps", diverged: false);
    }

    private void End(TrainingContext context, string reason, bool diverged)
    {
        Stopped = true;
        _reason = reason;
        _diverged = diverged;
        if (!double.IsFinite(_losses[^1])) return; // the divergence guard ends the run on a non-finite loss
        context.StopNow("learning-rate range test: " + reason);
    }

    /// <summary>The measurements and the suggestion.</summary>
    public LearningRateFinderResult Result(double min, double max)
    {
        if (_rates.Count == 0)
            throw new InvalidOperationException("The learning-rate range test ran no batch: the training data has no rows.");
        if (!Stopped) _reason = string.Format(CultureInfo.InvariantCulture, "training ended after {0} of {1} steps", _rates.Count, _steps);
        var (steepest, minimum) = LearningRateFinder.Suggest(_rates, _smoothed, _steps);
        return new LearningRateFinderResult(_rates.ToArray(), _losses.ToArray(), _smoothed.ToArray(), steepest, minimum, _reason, _diverged);
    }
}
