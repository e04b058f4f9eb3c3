using System.Globalization;
using System.Text.Json;

namespace MLNetDeep.Sweeps;

/// <summary>Where a trial stands.</summary>
public enum TrialStatus
{
    /// <summary>Created but not running (an interrupted trial waiting to be retried).</summary>
    Pending,
    /// <summary>Claimed by a worker and training.</summary>
    Running,
    /// <summary>Trained its full budget; <see cref="TrialRecord.Value"/> is its final metric.</summary>
    Completed,
    /// <summary>Stopped early by the scheduler (ASHA); <see cref="TrialRecord.Value"/> is its last reported metric.</summary>
    Pruned,
    /// <summary>Threw, diverged (NaN metric) or was invalid; <see cref="TrialRecord.Error"/> says why.</summary>
    Failed,
}

/// <summary>One trial as stored: its parameters, status, metric per epoch and outcome.</summary>
public sealed class TrialRecord
{
    /// <summary>0-based trial number, unique within the sweep.</summary>
    public int Number { get; init; }
    /// <summary>The parameter values.</summary>
    public TrialParameters Parameters { get; init; } = new(Array.Empty<KeyValuePair<string, object>>());
    /// <summary>Current status.</summary>
    public TrialStatus Status { get; set; }
    /// <summary>Final metric (last reported one for pruned trials); null while running or when failed.</summary>
    public double? Value { get; set; }
    /// <summary>Validation metric per finished epoch (epoch → value).</summary>
    public SortedDictionary<int, double> Intermediate { get; init; } = new();
    /// <summary>Why the trial failed or was stopped.</summary>
    public string? Error { get; set; }
    /// <summary>The worker that ran (or runs) it.</summary>
    public string? Worker { get; set; }
    /// <summary>How many times it was started (more than 1 after an interrupted run was retried).</summary>
    public int Attempts { get; set; }
    /// <summary>When the last attempt started (UTC).</summary>
    public DateTimeOffset? StartedAt { get; set; }
    /// <summary>When it ended (UTC).</summary>
    public DateTimeOffset? EndedAt { get; set; }
    /// <summary>Wall time of the last attempt.</summary>
    public TimeSpan Duration { get; set; }

    /// <summary>True when finished (completed, pruned or failed).</summary>
    public bool IsFinished => Status is TrialStatus.Completed or TrialStatus.Pruned or TrialStatus.Failed;

    /// <summary>A deep copy.</summary>
    public TrialRecord Clone() => new()
    {
        Number = Number, Parameters = Parameters, Status = Status, Value = Value, Intermediate = new(Intermediate),
        Error = Error, Worker = Worker, Attempts = Attempts, StartedAt = StartedAt, EndedAt = EndedAt, Duration = Duration,
    };

    /// <summary>Intermediate values as JSON ({"1":0.81,"2":0.84}).</summary>
    public static string IntermediateToJson(IReadOnlyDictionary<int, double> values) =>
        JsonSerializer.Serialize(values.ToDictionary(k => k.Key.ToString(CultureInfo.InvariantCulture), k => k.Value));

    /// <summary>Reads <see cref="IntermediateToJson"/>'s output.</summary>
    public static SortedDictionary<int, double> IntermediateFromJson(string? json)
    {
        var result = new SortedDictionary<int, double>();
        if (string.IsNullOrEmpty(json)) return result;
        foreach (var (k, v) in JsonSerializer.Deserialize<Dictionary<string, double>>(json)!)
            result[int.Parse(k, CultureInfo.InvariantCulture)] = v;
        return result;
    }
}

/// <summary>What identifies a sweep in its storage: a worker that resumes or joins must agree on all of it.</summary>
public sealed class SweepDefinition
{
    /// <summary>The sweep's name (many sweeps can share one storage).</summary>
    public required string Name { get; init; }
    /// <summary><see cref="SearchSpace.Describe"/> of the space.</summary>
    public required string Space { get; init; }
    /// <summary>The optimised metric's name.</summary>
    public required string Metric { get; init; }
    /// <summary>"maximize" or "minimize".</summary>
    public required string Direction { get; init; }
}

/// <summary>
/// Persists a sweep's trials as they start, report epochs and end. Implementations: <see cref="InMemorySweepStorage"/>
/// (this library), SQLite (resumable, one process) and PostgreSQL (several workers) in the MLNetDeep.Sweeps package.
/// Every method is safe to call from several threads; the PostgreSQL one from several processes.
/// </summary>
public interface ISweepStorage : IDisposable
{
    /// <summary>
    /// Creates the sweep, or checks that the stored one has the same definition (throws when not). Storages
    /// that serve one process (SQLite, in-memory) also turn trials left Running by a killed process back to Pending here.
    /// </summary>
    void Open(SweepDefinition definition);

    /// <summary>
    /// Atomically claims the next trial for <paramref name="worker"/>: an interrupted (Pending, or Running with an
    /// expired lease) trial first, with its parameters kept; otherwise, while fewer than <paramref name="maxTrials"/>
    /// trials exist, a new one with the parameters <paramref name="suggest"/> returns from every trial so far.
    /// Returns null when the budget is used up or <paramref name="suggest"/> returns null (grid exhausted).
    /// The claimed trial is Running when returned. Concurrent callers never get the same trial.
    /// </summary>
    TrialRecord? ClaimNext(string sweep, string worker, int maxTrials, Func<IReadOnlyList<TrialRecord>, TrialParameters?> suggest);

    /// <summary>Records a trial's metric after an epoch (also the worker's heartbeat).</summary>
    void ReportEpoch(string sweep, int trial, int epoch, double value);

    /// <summary>Records how a trial ended. <see cref="TrialStatus.Pending"/> hands it back to be retried (cancellation).</summary>
    void Finish(string sweep, int trial, TrialStatus status, double? value, string? error, TimeSpan duration);

    /// <summary>Every trial of the sweep, by number.</summary>
    IReadOnlyList<TrialRecord> LoadTrials(string sweep);
}

/// <summary>Keeps a sweep in memory: no resume after the process ends. The default when no storage is given.</summary>
public sealed class InMemorySweepStorage : ISweepStorage
{
    private readonly object _gate = new();
    private readonly Dictionary<string, (SweepDefinition Def, List<TrialRecord> Trials)> _sweeps = new();

    /// <inheritdoc />
    public void Open(SweepDefinition definition)
    {
        lock (_gate)
        {
            if (_sweeps.TryGetValue(definition.Name, out var s))
            {
                SweepStorageChecks.Same(s.Def, definition);
                foreach (var t in s.Trials.Where(t => t.Status == TrialStatus.Running)) t.Status = TrialStatus.Pending;
            }
            else _sweeps[definition.Name] = (definition, new List<TrialRecord>());
        }
    }

    /// <inheritdoc />
    public TrialRecord? ClaimNext(string sweep, string worker, int maxTrials, Func<IReadOnlyList<TrialRecord>, TrialParameters?> suggest)
    {
        lock (_gate)
        {
            var trials = Get(sweep);
            var t = trials.FirstOrDefault(x => x.Status == TrialStatus.Pending);
            if (t is null)
            {
                if (trials.Count >= maxTrials) return null;
                var p = suggest(trials.Select(x => x.Clone()).ToList());
                if (p is null) return null;
                t = new TrialRecord { Number = trials.Count, Parameters = p };
                trials.Add(t);
            }
            t.Status = TrialStatus.Running;
            t.Worker = worker;
            t.Attempts++;
            t.StartedAt = DateTimeOffset.UtcNow;
            t.Intermediate.Clear();
            t.Value = null; t.Error = null; t.EndedAt = null;
            return t.Clone();
        }
    }

    /// <inheritdoc />
    public void ReportEpoch(string sweep, int trial, int epoch, double value)
    {
        lock (_gate) Get(sweep)[trial].Intermediate[epoch] = value;
    }

    /// <inheritdoc />
    public void Finish(string sweep, int trial, TrialStatus status, double? value, string? error, TimeSpan duration)
    {
        lock (_gate)
        {
            var t = Get(sweep)[trial];
            t.Status = status; t.Value = value; t.Error = error; t.Duration = duration;
            t.EndedAt = status == TrialStatus.Pending ? null : DateTimeOffset.UtcNow;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<TrialRecord> LoadTrials(string sweep)
    {
        lock (_gate) return Get(sweep).Select(t => t.Clone()).ToList();
    }

    private List<TrialRecord> Get(string sweep) => _sweeps.TryGetValue(sweep, out var s) ? s.Trials
        : throw new InvalidOperationException($"Sweep '{sweep}' is not open in this storage. Call Open first (Sweeper does).");

    /// <inheritdoc />
    public void Dispose() { }
}

/// <summary>Checks shared by the storages.</summary>
public static class SweepStorageChecks
{
    /// <summary>Throws when a stored sweep's definition differs from the one a worker brings.</summary>
    public static void Same(SweepDefinition stored, SweepDefinition given)
    {
        if (stored.Space != given.Space)
            throw new InvalidOperationException($"Sweep '{given.Name}' already exists in this storage with a different search space.\nStored:\n{stored.Space}Given:\n{given.Space}Use a new SweepName, or the same space to resume.");
        if (stored.Metric != given.Metric || stored.Direction != given.Direction)
            throw new InvalidOperationException($"Sweep '{given.Name}' already exists and optimises {stored.Metric} ({stored.Direction}); this run asks for {given.Metric} ({given.Direction}). Use a new SweepName.");
    }
}
