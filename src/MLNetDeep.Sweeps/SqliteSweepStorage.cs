using System.Globalization;
using Microsoft.Data.Sqlite;

namespace MLNetDeep.Sweeps;

/// <summary>
/// Keeps sweeps in a SQLite file: every trial is written when it starts, after each epoch and when it ends (WAL journal,
/// synchronous FULL, so a finished trial is on disk before the next starts). Kill the process and run the same sweep on the
/// same file again: finished trials are kept and not re-run, the interrupted one is retried with the same parameters, and the
/// tuner continues from the full history. Meant for one process at a time (opening a sweep hands back trials left Running);
/// use <c>PostgresSweepStorage</c> (package MLNetDeep.Sweeps.Postgres) for several workers.
/// </summary>
public sealed class SqliteSweepStorage : ISweepStorage
{
    private readonly SqliteConnection _db;
    private readonly object _gate = new();

    /// <summary>Opens (or creates) the database file at <paramref name="path"/>.</summary>
    public SqliteSweepStorage(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("The SQLite path is empty. Pass a file path such as \"sweep.db\".", nameof(path));
        Path = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = 30 }.ToString());
        try
        {
            _db.Open();
            Exec("PRAGMA journal_mode=WAL;");
            Exec("PRAGMA synchronous=FULL;");
            Exec("PRAGMA busy_timeout=30000;");
            Exec(@"CREATE TABLE IF NOT EXISTS sweeps (
                     name TEXT PRIMARY KEY, space TEXT NOT NULL, metric TEXT NOT NULL, direction TEXT NOT NULL, created_at TEXT NOT NULL);
                   CREATE TABLE IF NOT EXISTS trials (
                     sweep TEXT NOT NULL, number INTEGER NOT NULL, params TEXT NOT NULL, status TEXT NOT NULL, value REAL,
                     intermediate TEXT NOT NULL DEFAULT '{}', error TEXT, worker TEXT, attempts INTEGER NOT NULL DEFAULT 0,
                     started_at TEXT, ended_at TEXT, duration_s REAL NOT NULL DEFAULT 0, heartbeat TEXT,
                     PRIMARY KEY (sweep, number));");
        }
        catch (SqliteException e)
        {
            _db.Dispose();
            throw Unusable(Path, e);
        }
    }

    /// <summary>What is wrong with a sweep file SQLite refused, and the fix (SQLite's own message says "file is not a database" or "readonly").</summary>
    private static IOException Unusable(string path, SqliteException e) => e.SqliteErrorCode switch
    {
        26 => new IOException($"The sweep file '{path}' is not a SQLite database (SQLite: {e.Message}). Pass another path for the sweep, " +
                              "or delete or move that file if it is an old or damaged sweep.", e),                                 // SQLITE_NOTADB
        8 or 14 => new IOException($"The sweep file '{path}' (or its folder, where SQLite writes its journal) can't be written " +
                                   $"(SQLite: {e.Message}). Give this process write access to both, or pass a path in a writable folder.", e), // READONLY, CANTOPEN
        11 => new IOException($"The sweep file '{path}' is damaged (SQLite: {e.Message}). Delete it to start the sweep over, or pass another path.", e), // CORRUPT
        _ => new IOException($"SQLite can't use the sweep file '{path}': {e.Message}", e),
    };

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public void Open(SweepDefinition definition)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction(deferred: false);
            using (var q = Cmd("SELECT space, metric, direction FROM sweeps WHERE name = $n", tx, ("$n", definition.Name)))
            using (var r = q.ExecuteReader())
            {
                if (r.Read())
                    SweepStorageChecks.Same(new SweepDefinition { Name = definition.Name, Space = r.GetString(0), Metric = r.GetString(1), Direction = r.GetString(2) }, definition);
                else
                {
                    r.Close();
                    using var ins = Cmd("INSERT INTO sweeps(name, space, metric, direction, created_at) VALUES ($n, $s, $m, $d, $t)", tx,
                        ("$n", definition.Name), ("$s", definition.Space), ("$m", definition.Metric), ("$d", definition.Direction), ("$t", Now()));
                    ins.ExecuteNonQuery();
                }
            }
            // a trial left Running was interrupted (this storage serves one process): hand it back for a retry
            using (var reset = Cmd("UPDATE trials SET status = 'pending' WHERE sweep = $n AND status = 'running'", tx, ("$n", definition.Name)))
                reset.ExecuteNonQuery();
            tx.Commit();
        }
    }

    /// <inheritdoc />
    public TrialRecord? ClaimNext(string sweep, string worker, int maxTrials, Func<IReadOnlyList<TrialRecord>, TrialParameters?> suggest)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: one claimer at a time, across processes too
            int? number = null;
            using (var q = Cmd("SELECT number FROM trials WHERE sweep = $s AND status = 'pending' ORDER BY number LIMIT 1", tx, ("$s", sweep)))
                if (q.ExecuteScalar() is long n) number = (int)n;
            if (number is null)
            {
                var trials = Load(sweep, tx);
                if (trials.Count >= maxTrials) return null;
                var p = suggest(trials);
                if (p is null) return null;
                number = trials.Count == 0 ? 0 : trials.Max(t => t.Number) + 1;
                using var ins = Cmd("INSERT INTO trials(sweep, number, params, status) VALUES ($s, $n, $p, 'pending')", tx,
                    ("$s", sweep), ("$n", number.Value), ("$p", p.ToJson()));
                ins.ExecuteNonQuery();
            }
            using (var up = Cmd(@"UPDATE trials SET status = 'running', worker = $w, attempts = attempts + 1, started_at = $t, heartbeat = $t,
                                   ended_at = NULL, value = NULL, error = NULL, intermediate = '{}' WHERE sweep = $s AND number = $n", tx,
                       ("$w", worker), ("$t", Now()), ("$s", sweep), ("$n", number.Value)))
                up.ExecuteNonQuery();
            var claimed = Load(sweep, tx).First(t => t.Number == number.Value);
            tx.Commit();
            return claimed;
        }
    }

    /// <inheritdoc />
    public void ReportEpoch(string sweep, int trial, int epoch, double value)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction(deferred: false);
            string json;
            using (var q = Cmd("SELECT intermediate FROM trials WHERE sweep = $s AND number = $n", tx, ("$s", sweep), ("$n", trial)))
                json = q.ExecuteScalar() as string ?? throw new InvalidOperationException($"Trial {trial} of sweep '{sweep}' is not in {Path}.");
            var values = TrialRecord.IntermediateFromJson(json);
            values[epoch] = value;
            using (var up = Cmd("UPDATE trials SET intermediate = $i, heartbeat = $t WHERE sweep = $s AND number = $n", tx,
                       ("$i", TrialRecord.IntermediateToJson(values)), ("$t", Now()), ("$s", sweep), ("$n", trial)))
                up.ExecuteNonQuery();
            tx.Commit();
        }
    }

    /// <inheritdoc />
    public void Finish(string sweep, int trial, TrialStatus status, double? value, string? error, TimeSpan duration)
    {
        lock (_gate)
        {
            using var up = Cmd("UPDATE trials SET status = $st, value = $v, error = $e, duration_s = $d, ended_at = $t WHERE sweep = $s AND number = $n", null,
                ("$st", status.ToString().ToLowerInvariant()), ("$v", value is double v && double.IsFinite(v) ? v : null), ("$e", error),
                ("$d", duration.TotalSeconds), ("$t", status == TrialStatus.Pending ? null : Now()), ("$s", sweep), ("$n", trial));
            up.ExecuteNonQuery();
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<TrialRecord> LoadTrials(string sweep)
    {
        lock (_gate) return Load(sweep, null);
    }

    private List<TrialRecord> Load(string sweep, SqliteTransaction? tx)
    {
        using var q = Cmd(@"SELECT number, params, status, value, intermediate, error, worker, attempts, started_at, ended_at, duration_s
                            FROM trials WHERE sweep = $s ORDER BY number", tx, ("$s", sweep));
        using var r = q.ExecuteReader();
        return TrialRows.ReadAll(r, static (row, i) => DateTimeOffset.Parse(row.GetString(i), CultureInfo.InvariantCulture));
    }

    private SqliteCommand Cmd(string sql, SqliteTransaction? tx, params (string Name, object? Value)[] args)
    {
        var c = _db.CreateCommand();
        c.CommandText = sql;
        c.Transaction = tx;
        foreach (var (n, v) in args) c.Parameters.AddWithValue(n, v ?? DBNull.Value);
        return c;
    }

    private void Exec(string sql)
    {
        using var c = _db.CreateCommand();
        c.CommandText = sql;
        c.ExecuteNonQuery();
    }

    private static string Now() => DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate) _db.Dispose();
    }
}
