using Microsoft.ML;
using MLNetDeep.Training;

namespace MLNetDeep.Sweeps;

/// <summary>The run every one-line trainer sweep (<see cref="CnnSweep"/>, <see cref="DenseSweep"/>) shares once its data is split.</summary>
internal static class TrainerSweep
{
    /// <summary>
    /// Sweeps <paramref name="space"/> over <paramref name="folds"/>: a copy of the caller's <paramref name="options"/> (never
    /// changed) set to <paramref name="metric"/>; each trial trains <paramref name="trainer"/> on options built by
    /// <paramref name="toOptions"/> with the trial's validation rows and callback; the result's
    /// <see cref="SweepResult.BestOptions"/> is rebuilt from the best trial's parameters (clean of the sweep's callback, and
    /// available when the best trial ran elsewhere).
    /// </summary>
    public static SweepResult Run<TParams, TOptions>(MLContext ml, SearchSpace<TParams> space, IReadOnlyList<SweepData> folds, SweepMetric metric,
        SweepOptions? options, Func<TParams, TOptions> toOptions, Func<TOptions, IEstimator<ITransformer>> trainer, string labelColumnName,
        CancellationToken cancellationToken)
        where TParams : class, new()
        where TOptions : TrainerOptions
    {
        options = options?.Clone() ?? new SweepOptions(); // the caller's object is never changed
        options.MetricName = metric.Name;
        options.Direction = metric.Direction;
        var objective = new TrainerObjective<TParams>(ml, space, folds, metric, (p, setup) =>
        {
            var o = toOptions(p);
            o.ValidationData = setup.ValidationData;
            o.ValidationFraction = 0;
            o.Callbacks.Add(setup.Callback);
            return trainer(o);
        }, labelColumnName);
        var result = Sweeper.Run(space, objective, options, ml, cancellationToken);
        if (result.BestTrial is null) return result;
        return new SweepResult
        {
            Trials = result.Trials, BestTrial = result.BestTrial, BestModel = result.BestModel,
            BestOptions = toOptions(space.Bind(result.BestTrial.Parameters)),
            TrialsRunHere = result.TrialsRunHere, MetricName = result.MetricName, Direction = result.Direction, EndReason = result.EndReason,
        };
    }
}
