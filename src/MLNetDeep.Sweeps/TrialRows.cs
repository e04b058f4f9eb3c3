using System.Data.Common;

namespace MLNetDeep.Sweeps;

/// <summary>Reads trial rows in the column order both SQL storages select (number, params, status, value, intermediate, error, worker, attempts, started_at, ended_at, duration_s).</summary>
internal static class TrialRows
{
    /// <summary>Reads every row; <paramref name="readTime"/> reads a non-null timestamp column (typed in PostgreSQL, text in SQLite).</summary>
    public static List<TrialRecord> ReadAll(DbDataReader r, Func<DbDataReader, int, DateTimeOffset> readTime)
    {
        var list = new List<TrialRecord>();
        while (r.Read())
        {
            list.Add(new TrialRecord
            {
                Number = r.GetInt32(0),
                Parameters = TrialParameters.FromJson(r.GetString(1)),
                Status = Enum.Parse<TrialStatus>(r.GetString(2), ignoreCase: true),
                Value = r.IsDBNull(3) ? null : r.GetDouble(3),
                Intermediate = TrialRecord.IntermediateFromJson(r.GetString(4)),
                Error = r.IsDBNull(5) ? null : r.GetString(5),
                Worker = r.IsDBNull(6) ? null : r.GetString(6),
                Attempts = r.GetInt32(7),
                StartedAt = r.IsDBNull(8) ? null : readTime(r, 8),
                EndedAt = r.IsDBNull(9) ? null : readTime(r, 9),
                Duration = TimeSpan.FromSeconds(r.GetDouble(10)),
            });
        }
        return list;
    }
}
