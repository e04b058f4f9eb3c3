using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetDeep.Sweeps;

/// <summary>What a trial's objective returns.</summary>
public sealed class TrialResult
{
    /// <summary>The final metric.</summary>
    public required double Value { get; init; }
    /// <summary>The trained model (kept for the best trial, disposed otherwise when disposable).</summary>
    public object? Model { get; init; }
    /// <summary>The options object the trial trained with (kept for the best trial).</summary>
    public object? Options { get; init; }
}

/// <summary>Trains and scores one trial. <see cref="TrainerObjective{TParams}"/> trains through an ML.NET estimator; any function works for tests.</summary>
public interface ISweepObjective
{
    /// <summary>Runs the trial: report per-epoch metrics with <see cref="TrialContext.Report"/> and stop when it returns true.</summary>
    TrialResult Run(TrialContext context);
}

/// <summary>An objective from a function (cheap synthetic objectives, custom training code).</summary>
public sealed class FunctionObjective : ISweepObjective
{
    private readonly Func<TrialContext, double> _run;
    /// <summary>Wraps <paramref name="run"/>, which returns the trial's final metric.</summary>
    public FunctionObjective(Func<TrialContext, double> run) { _run = run ?? throw new ArgumentNullException(nameof(run)); }
    /// <inheritdoc />
    public TrialResult Run(TrialContext context) => new() { Value = _run(context) };
}

/// <summary>What a running trial sees: its parameters, and the channel to report epochs and learn it should stop.</summary>
public sealed class TrialContext
{
    private readonly Func<int, double, string?> _report;

    internal TrialContext(int number, TrialParameters parameters, CancellationToken token, Func<int, double, string?> report)
    {
        Number = number;
        Parameters = parameters;
        CancellationToken = token;
        _report = report;
    }

    /// <summary>The trial's number in the sweep.</summary>
    public int Number { get; }
    /// <summary>The values to train with.</summary>
    public TrialParameters Parameters { get; }
    /// <summary>Signalled when the sweep is cancelled or out of wall time: stop and return (the trial is retried on resume).</summary>
    public CancellationToken CancellationToken { get; }
    /// <summary>The trial's full budget in epochs, when known (the scheduler never stops a trial at its last epoch).</summary>
    public int? MaxEpochs { get; set; }
    /// <summary>Why the scheduler stopped the trial (null while it goes on).</summary>
    public string? StopReason { get; private set; }
    /// <summary>True once the scheduler has stopped the trial.</summary>
    public bool IsPruned => StopReason is not null;
    /// <summary>The last metric reported.</summary>
    public double? LastReported { get; private set; }
    /// <summary>The last epoch reported.</summary>
    public int LastEpoch { get; private set; }

    /// <summary>Records the validation metric after <paramref name="epoch"/> (1-based); true means stop now (pruned or cancelled).</summary>
    public bool Report(int epoch, double value)
    {
        LastReported = value;
        LastEpoch = epoch;
        if (StopReason is null) StopReason = _report(epoch, value);
        return IsPruned || CancellationToken.IsCancellationRequested;
    }
}

/// <summary>How a sweep runs: budgets, tuner, scheduler, storage, progress.</summary>
public sealed class SweepOptions
{
    /// <summary>The sweep's name in its storage; run again with the same name to resume or to join as another worker. Default "sweep".</summary>
    public string SweepName { get; set; } = "sweep";
    /// <summary>Name of the optimised metric (recorded with the sweep). Default "accuracy".</summary>
    public string MetricName { get; set; } = "accuracy";
    /// <summary>Whether larger or smaller is better. Default Maximize.</summary>
    public OptimizationDirection Direction { get; set; } = OptimizationDirection.Maximize;
    /// <summary>Total trials of the sweep (over every run and worker). Default 20.</summary>
    public int MaxTrials { get; set; } = 20;
    /// <summary>Wall-time budget of this run; the trial in flight when it runs out is handed back for a later run. Null = none.</summary>
    public TimeSpan? MaxWallTime { get; set; }
    /// <summary>Proposes parameters. Default <see cref="TpeTuner"/>.</summary>
    public ITuner Tuner { get; set; } = new TpeTuner();
    /// <summary>Stops poor trials early (e.g. <see cref="AshaScheduler"/>). Null = every trial runs its full budget.</summary>
    public ITrialScheduler? Scheduler { get; set; }
    /// <summary>Where trials are persisted. Null = in memory (no resume); use SqliteSweepStorage (MLNetDeep.Sweeps) to resume.</summary>
    public ISweepStorage? Storage { get; set; }
    /// <summary>This worker's name in the storage. Default machine:process-id.</summary>
    public string WorkerId { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}";
    /// <summary>
    /// Parameters to run first, before the tuner proposes anything (e.g. the trainer's defaults, so the sweep's best is never
    /// worse on validation than the defaults). Trial k &lt; count gets InitialTrials[k]. Null = none.
    /// </summary>
    public IReadOnlyList<TrialParameters>? InitialTrials { get; set; }
    /// <summary>Called after every trial of this run (on the sweep's thread).</summary>
    public Action<TrialRecord>? OnTrialEnd { get; set; }

    /// <summary>A shallow copy.</summary>
    public SweepOptions Clone() => (SweepOptions)MemberwiseClone();

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(SweepName)) throw new ArgumentException("SweepOptions.SweepName must be a non-empty name. Received: an empty name.", nameof(SweepName));
        if (MaxTrials < 1) throw new ArgumentOutOfRangeException(nameof(MaxTrials), MaxTrials, $"SweepOptions.MaxTrials must be >= 1. Received: MaxTrials={MaxTrials}");
        if (MaxWallTime is { } w && w <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(MaxWallTime), w, $"SweepOptions.MaxWallTime must be positive or null. Received: {w}");
        if (Tuner is null) throw new ArgumentNullException(nameof(Tuner), "SweepOptions.Tuner must be set (new TpeTuner(), new RandomTuner() or new GridTuner()).");
    }
}

/// <summary>The outcome of a sweep: every trial, the best one, and (when it ran in this process) its model and options.</summary>
public sealed class SweepResult
{
    /// <summary>Every trial in the storage, by number (trials of earlier runs and other workers included).</summary>
    public required IReadOnlyList<TrialRecord> Trials { get; init; }
    /// <summary>The best completed trial (null when none completed).</summary>
    public TrialRecord? BestTrial { get; init; }
    /// <summary>The best trial's parameters.</summary>
    public TrialParameters? BestParameters => BestTrial?.Parameters;
    /// <summary>The best trial's trained model, when that trial ran in this process (null when it ran earlier or elsewhere).</summary>
    public object? BestModel { get; init; }
    /// <summary>The options the best trial trained with, when that trial ran in this process.</summary>
    public object? BestOptions { get; init; }
    /// <summary>Trials this process ran.</summary>
    public int TrialsRunHere { get; init; }
    /// <summary>The metric and direction.</summary>
    public required string MetricName { get; init; }
    /// <summary>Whether larger or smaller was better.</summary>
    public OptimizationDirection Direction { get; init; }
    /// <summary>Why this run ended ("budget", "grid exhausted", "wall time", "cancelled").</summary>
    public string EndReason { get; init; } = "";

    /// <summary>Trials that completed their full budget.</summary>
    public int Completed => Trials.Count(t => t.Status == TrialStatus.Completed);
    /// <summary>Trials stopped early by the scheduler.</summary>
    public int Pruned => Trials.Count(t => t.Status == TrialStatus.Pruned);
    /// <summary>Trials that failed.</summary>
    public int Failed => Trials.Count(t => t.Status == TrialStatus.Failed);

    /// <summary>The results table (every trial, its parameters, metric per epoch, status, duration).</summary>
    public SweepTable ToTable() => new(Trials, MetricName, Direction);
}

/// <summary>Runs sweeps: claims trials from the storage, asks the tuner, runs the objective, records the outcome.</summary>
public static class Sweeper
{
    /// <summary>
    /// Runs trials until <see cref="SweepOptions.MaxTrials"/> exist and are finished in the storage, the tuner has nothing
    /// left, the wall time runs out or <paramref name="cancellationToken"/> is signalled. A trial that throws, or whose
    /// metric is not a finite number, is recorded as failed and the sweep goes on. Progress goes to <paramref name="mlContext"/>'s log.
    /// </summary>
    public static SweepResult Run(SearchSpace space, ISweepObjective objective, SweepOptions options,
        MLContext? mlContext = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (space.Count == 0) throw new ArgumentException("The search space has no dimensions. Add a range or choice, or use the trainer's default space.", nameof(space));

        var storage = options.Storage ?? new InMemorySweepStorage();
        bool ownStorage = options.Storage is null;
        var host = (mlContext as IHostEnvironment)?.Register("MLNetDeep.Sweep");
        using var channel = host?.Start("MLNetDeep.Sweep");
        try
        {
            storage.Open(new SweepDefinition
            {
                Name = options.SweepName,
                Space = space.Describe(),
                Metric = options.MetricName,
                Direction = options.Direction.ToString().ToLowerInvariant(),
            });

            using var wall = options.MaxWallTime is { } w ? new CancellationTokenSource(w) : new CancellationTokenSource();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, wall.Token);
            var token = linked.Token;
            string endReason = "budget";
            int ranHere = 0;
            object? bestModel = null, bestOptions = null;
            double? bestHere = null;
            bool Better(double a, double b) => options.Direction == OptimizationDirection.Maximize ? a > b : a < b;

            while (true)
            {
                if (token.IsCancellationRequested) { endReason = cancellationToken.IsCancellationRequested ? "cancelled" : "wall time"; break; }
                bool exhausted = false;
                var trial = storage.ClaimNext(options.SweepName, options.WorkerId, options.MaxTrials, history =>
                {
                    var p = options.InitialTrials is { } init && history.Count < init.Count
                        ? init[history.Count]
                        : options.Tuner.Suggest(space, history, history.Count, options.Direction);
                    if (p is null) exhausted = true;
                    return p;
                });
                if (trial is null) { endReason = exhausted ? "tuner exhausted (grid done)" : "budget"; break; }

                channel?.Info(MessageSensitivity.None, $"trial {trial.Number} started: {trial.Parameters}{(trial.Attempts > 1 ? $" (attempt {trial.Attempts})" : "")}");
                var sw = Stopwatch.StartNew();
                TrialContext? context = null;
                context = new TrialContext(trial.Number, trial.Parameters, token, (epoch, value) =>
                {
                    storage.ReportEpoch(options.SweepName, trial.Number, epoch, value);
                    var s = options.Scheduler;
                    if (s is null || !s.DecidesAt(epoch, context!.MaxEpochs)) return null;
                    return s.ShouldStop(trial.Number, epoch, value, storage.LoadTrials(options.SweepName), options.Direction);
                });

                TrialStatus status;
                double? value = null;
                string? error = null;
                TrialResult? result = null;
                try
                {
                    result = objective.Run(context);
                    if (token.IsCancellationRequested && !context.IsPruned)
                    {
                        status = TrialStatus.Pending; // handed back: a later run retries it
                        error = "interrupted (" + (cancellationToken.IsCancellationRequested ? "cancelled" : "wall time") + ")";
                    }
                    else if (context.IsPruned)
                    {
                        status = TrialStatus.Pruned;
                        value = context.LastReported ?? result.Value;
                        error = context.StopReason;
                    }
                    else if (!double.IsFinite(result.Value))
                    {
                        status = TrialStatus.Failed;
                        error = $"diverged: {options.MetricName} = {result.Value}";
                    }
                    else
                    {
                        status = TrialStatus.Completed;
                        value = result.Value;
                    }
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    status = TrialStatus.Pending;
                    error = "interrupted";
                }
                catch (Exception e)
                {
                    status = TrialStatus.Failed;
                    error = $"{e.GetType().Name}: {e.Message}";
                }
                sw.Stop();
                storage.Finish(options.SweepName, trial.Number, status, value, error, sw.Elapsed);
                ranHere++;

                if (status == TrialStatus.Completed && (bestHere is null || Better(value!.Value, bestHere.Value)))
                {
                    DisposeModel(bestModel);
                    bestHere = value;
                    bestModel = result?.Model;
                    bestOptions = result?.Options;
                }
                else DisposeModel(result?.Model);

                var record = storage.LoadTrials(options.SweepName).First(t => t.Number == trial.Number);
                channel?.Info(MessageSensitivity.None,
                    $"trial {trial.Number} {status.ToString().ToLowerInvariant()}" +
                    (value is double v ? $": {options.MetricName} {v:F4}" : "") +
                    $" after {context.LastEpoch} epoch(s), {sw.Elapsed.TotalSeconds:F1}s" + (error is null ? "" : $" ({error})"));
                options.OnTrialEnd?.Invoke(record);
                if (status == TrialStatus.Pending) { endReason = cancellationToken.IsCancellationRequested ? "cancelled" : "wall time"; break; }
            }

            var trials = storage.LoadTrials(options.SweepName);
            var best = BestOf(trials, options.Direction);
            bool bestIsOurs = best is not null && bestHere is double bh && best.Value == bh;
            if (!bestIsOurs) { DisposeModel(bestModel); bestModel = null; bestOptions = null; }
            channel?.Info(MessageSensitivity.None, best is null ? $"sweep '{options.SweepName}' ended ({endReason}): no completed trial"
                : $"sweep '{options.SweepName}' ended ({endReason}): best trial {best.Number}, {options.MetricName} {best.Value:F4}: {best.Parameters}");
            return new SweepResult
            {
                Trials = trials,
                BestTrial = best,
                BestModel = bestModel,
                BestOptions = bestOptions,
                TrialsRunHere = ranHere,
                MetricName = options.MetricName,
                Direction = options.Direction,
                EndReason = endReason,
            };
        }
        finally
        {
            if (ownStorage) storage.Dispose();
        }
    }

    /// <summary>The best completed trial of <paramref name="trials"/> (lowest number wins ties).</summary>
    public static TrialRecord? BestOf(IEnumerable<TrialRecord> trials, OptimizationDirection direction)
    {
        var done = trials.Where(t => t.Status == TrialStatus.Completed && t.Value is double v && double.IsFinite(v));
        return direction == OptimizationDirection.Maximize
            ? done.OrderByDescending(t => t.Value).ThenBy(t => t.Number).FirstOrDefault()
            : done.OrderBy(t => t.Value).ThenBy(t => t.Number).FirstOrDefault();
    }

    /// <summary>Disposes the result's best model (its TorchSharp tensors) when you no longer need it.</summary>
    public static void DisposeBest(SweepResult result) => DisposeModel(result?.BestModel);

    internal static void DisposeModel(object? model)
    {
        if (model is IDisposable d) { d.Dispose(); return; }
        if (model is System.Collections.IEnumerable items)
            foreach (var item in items) if (item is IDisposable di) di.Dispose();
    }
}
