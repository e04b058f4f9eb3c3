using Npgsql;
using NpgsqlTypes;

namespace MLNetDeep.Sweeps;

/// <summary>
/// Keeps sweeps in PostgreSQL so several worker processes, on one machine or many, run one sweep together without
/// duplicating trials. Claiming a trial is row-level locking: an interrupted trial (Pending, or Running with a heartbeat
/// older than <see cref="LeaseTimeout"/>) is taken with <c>SELECT … FOR UPDATE SKIP LOCKED</c>, so two workers never take
/// the same one; a new trial is created while holding the sweep's row lock (<c>SELECT … FOR UPDATE</c>), so the tuner sees
/// every trial created before and grid points or trial numbers are never handed out twice. Every worker of a sweep must use
/// the same search space, metric and tuner settings.
/// </summary>
public sealed class PostgresSweepStorage : ISweepStorage
{
    private readonly NpgsqlDataSource _source;

    /// <summary>Connects with an Npgsql connection string (e.g. "Host=127.0.0.1;Port=5432;Username=postgres;Database=sweeps") and creates the tables if needed.</summary>
    public PostgresSweepStorage(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new ArgumentException("The PostgreSQL connection string is empty. Pass e.g. \"Host=127.0.0.1;Username=postgres;Database=sweeps\".", nameof(connectionString));
        _source = NpgsqlDataSource.Create(connectionString);
        using var c = _source.OpenConnection();
        // a transaction-level advisory lock keeps two workers that start together from racing on CREATE TABLE
        Exec(c, null, @"BEGIN;
            SELECT pg_advisory_xact_lock(727277);
            CREATE TABLE IF NOT EXISTS mlnetdeep_sweeps (
              name TEXT PRIMARY KEY, space TEXT NOT NULL, metric TEXT NOT NULL, direction TEXT NOT NULL,
              created_at TIMESTAMPTZ NOT NULL DEFAULT now());
            CREATE TABLE IF NOT EXISTS mlnetdeep_trials (
              sweep TEXT NOT NULL REFERENCES mlnetdeep_sweeps(name), number INTEGER NOT NULL, params TEXT NOT NULL,
              status TEXT NOT NULL, value DOUBLE PRECISION, intermediate TEXT NOT NULL DEFAULT '{}', error TEXT, worker TEXT,
              attempts INTEGER NOT NULL DEFAULT 0, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ,
              duration_s DOUBLE PRECISION NOT NULL DEFAULT 0, heartbeat TIMESTAMPTZ,
              PRIMARY KEY (sweep, number));
            COMMIT;");
    }

    /// <summary>A Running trial whose last heartbeat (claim or epoch report) is older than this is taken as interrupted and retried. Default 30 minutes: set it above your longest epoch.</summary>
    public TimeSpan LeaseTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <inheritdoc />
    public void Open(SweepDefinition definition)
    {
        using var c = _source.OpenConnection();
        using var tx = c.BeginTransaction();
        Exec(c, tx, "INSERT INTO mlnetdeep_sweeps(name, space, metric, direction) VALUES (@n, @s, @m, @d) ON CONFLICT (name) DO NOTHING",
            ("n", definition.Name), ("s", definition.Space), ("m", definition.Metric), ("d", definition.Direction));
        using (var q = Cmd(c, tx, "SELECT space, metric, direction FROM mlnetdeep_sweeps WHERE name = @n", ("n", definition.Name)))
        using (var r = q.ExecuteReader())
        {
            r.Read();
            SweepStorageChecks.Same(new SweepDefinition { Name = definition.Name, Space = r.GetString(0), Metric = r.GetString(1), Direction = r.GetString(2) }, definition);
        }
        tx.Commit();
    }

    /// <inheritdoc />
    public TrialRecord? ClaimNext(string sweep, string worker, int maxTrials, Func<IReadOnlyList<TrialRecord>, TrialParameters?> suggest)
    {
        using var c = _source.OpenConnection();
        using var tx = c.BeginTransaction();
        int? number = null;
        using (var q = Cmd(c, tx, @"SELECT number FROM mlnetdeep_trials
                                     WHERE sweep = @s AND (status = 'pending' OR (status = 'running' AND heartbeat < now() - @lease))
                                     ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED",
                   ("s", sweep), ("lease", LeaseTimeout)))
            if (q.ExecuteScalar() is int n) number = n;
        if (number is null)
        {
            // serialise trial creation on the sweep's row; claims of interrupted trials above don't wait on it
            Exec(c, tx, "SELECT 1 FROM mlnetdeep_sweeps WHERE name = @s FOR UPDATE", ("s", sweep));
            var trials = Load(c, tx, sweep);
            if (trials.Count >= maxTrials) { tx.Commit(); return null; }
            var p = suggest(trials);
            if (p is null) { tx.Commit(); return null; }
            number = trials.Count == 0 ? 0 : trials.Max(t => t.Number) + 1;
            Exec(c, tx, "INSERT INTO mlnetdeep_trials(sweep, number, params, status) VALUES (@s, @n, @p, 'pending')",
                ("s", sweep), ("n", number.Value), ("p", p.ToJson()));
        }
        Exec(c, tx, @"UPDATE mlnetdeep_trials SET status = 'running', worker = @w, attempts = attempts + 1, started_at = now(), heartbeat = now(),
                       ended_at = NULL, value = NULL, error = NULL, intermediate = '{}' WHERE sweep = @s AND number = @n",
            ("w", worker), ("s", sweep), ("n", number.Value));
        var claimed = Load(c, tx, sweep, number.Value).Single();
        tx.Commit();
        return claimed;
    }

    /// <inheritdoc />
    public void ReportEpoch(string sweep, int trial, int epoch, double value)
    {
        using var c = _source.OpenConnection();
        using var tx = c.BeginTransaction();
        string json;
        using (var q = Cmd(c, tx, "SELECT intermediate FROM mlnetdeep_trials WHERE sweep = @s AND number = @n FOR UPDATE", ("s", sweep), ("n", trial)))
            json = q.ExecuteScalar() as string ?? throw new InvalidOperationException($"Trial {trial} of sweep '{sweep}' is not in the database.");
        var values = TrialRecord.IntermediateFromJson(json);
        values[epoch] = value;
        Exec(c, tx, "UPDATE mlnetdeep_trials SET intermediate = @i, heartbeat = now() WHERE sweep = @s AND number = @n",
            ("i", TrialRecord.IntermediateToJson(values)), ("s", sweep), ("n", trial));
        tx.Commit();
    }

    /// <inheritdoc />
    public void Finish(string sweep, int trial, TrialStatus status, double? value, string? error, TimeSpan duration)
    {
        using var c = _source.OpenConnection();
        Exec(c, null, @"UPDATE mlnetdeep_trials SET status = @st, value = @v, error = @e, duration_s = @d,
                         ended_at = CASE WHEN @st = 'pending' THEN NULL ELSE now() END WHERE sweep = @s AND number = @n",
            ("st", status.ToString().ToLowerInvariant()), ("v", value is double v && double.IsFinite(v) ? v : null), ("e", error),
            ("d", duration.TotalSeconds), ("s", sweep), ("n", trial));
    }

    /// <inheritdoc />
    public IReadOnlyList<TrialRecord> LoadTrials(string sweep)
    {
        using var c = _source.OpenConnection();
        return Load(c, null, sweep);
    }

    private static List<TrialRecord> Load(NpgsqlConnection c, NpgsqlTransaction? tx, string sweep, int? only = null)
    {
        using var q = Cmd(c, tx, @"SELECT number, params, status, value, intermediate, error, worker, attempts, started_at, ended_at, duration_s
                                    FROM mlnetdeep_trials WHERE sweep = @s AND (@only IS NULL OR number = @only) ORDER BY number",
            ("s", sweep), ("only", only));
        using var r = q.ExecuteReader();
        return TrialRows.ReadAll(r, static (row, i) => row.GetFieldValue<DateTimeOffset>(i));
    }

    private static NpgsqlCommand Cmd(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        var cmd = new NpgsqlCommand(sql, c, tx);
        foreach (var (n, v) in args)
        {
            var p = v switch
            {
                null when n == "only" => new NpgsqlParameter(n, NpgsqlDbType.Integer) { Value = DBNull.Value },
                null when n is "v" or "d" => new NpgsqlParameter(n, NpgsqlDbType.Double) { Value = DBNull.Value },
                null => new NpgsqlParameter(n, NpgsqlDbType.Text) { Value = DBNull.Value },
                _ => new NpgsqlParameter(n, v),
            };
            cmd.Parameters.Add(p);
        }
        return cmd;
    }

    private static void Exec(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = Cmd(c, tx, sql, args);
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public void Dispose() => _source.Dispose();
}
