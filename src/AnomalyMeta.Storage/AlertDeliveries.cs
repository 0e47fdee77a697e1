using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>A succeeded run whose flags may still be owed to an alert route; <paramref name="FinishedAt"/> tells its finishes apart.</summary>
public sealed record AlertableRun(long RunId, string Kind, DateOnly AsOf, DateTime FinishedAt, string? Reason);

/// <summary>One flag as an alert carries it; <paramref name="TagsJson"/> is the series' tags as stored (a JSON object).</summary>
public sealed record AlertFlag(int SeriesId, string SeriesKey, DateTime Ts, float Value, float Forecast, float LowerBand, float UpperBand,
    float Score, string TagsJson);

/// <summary>How one delivery of a run's flags to a route ended (<c>alert_delivery</c>).</summary>
public enum AlertOutcome
{
    /// <summary>The webhook answered 2xx.</summary>
    Delivered,

    /// <summary>No new flag of the run matched the route: nothing was posted.</summary>
    Empty,

    /// <summary>Every attempt failed; a later delivery pass tries again.</summary>
    Failed,
}

/// <summary>One row of <c>alert_delivery</c>: a route's delivery of one finish of a run.</summary>
public sealed record AlertDelivery(long RunId, string Route, DateTime RunFinishedAt, AlertOutcome Outcome, int Attempts, int? StatusCode,
    int FlagCount, int[] SeriesIds, DateTime? DeliveredAt, string? Error);

/// <summary>
/// The alert ledger: which succeeded runs still owe flags to which route, the flags a route gets, and how each delivery
/// ended. A route is owed a run's finish until a row of that finish says delivered (or empty), so a process that dies
/// mid-way sends the rest on its next pass and never sends a delivered route again.
/// </summary>
public sealed class AlertDeliveries(NpgsqlDataSource dataSource)
{
    /// <summary>Succeeded runs finished at or after <paramref name="finishedSince"/>, oldest first.</summary>
    public async Task<IReadOnlyList<AlertableRun>> SucceededSinceAsync(DateTimeOffset finishedSince, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<AlertableRun>(new CommandDefinition(
            """
            select run_id as RunId, kind as Kind, as_of as AsOf, finished_at as FinishedAt, reason as Reason
            from run
            where status = 'succeeded' and finished_at >= @finishedSince
            order by finished_at, run_id
            """,
            new { finishedSince }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>The (run, route) pairs whose current finish is settled: delivered, or nothing to send.</summary>
    public async Task<IReadOnlySet<(long RunId, string Route)>> SettledAsync(IReadOnlyList<AlertableRun> runs, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(long, string)>(new CommandDefinition(
            """
            select d.run_id, d.route
            from alert_delivery d join run r using (run_id)
            where d.run_id = any(@runIds) and d.run_finished_at = r.finished_at and d.outcome in ('delivered', 'empty')
            """,
            new { runIds = runs.Select(r => r.RunId).ToArray() }, cancellationToken: cancellationToken));
        return rows.ToHashSet();
    }

    /// <summary>
    /// The run's flags a route is owed: not muted, score at least <paramref name="minScore"/>, the series' tags containing
    /// <paramref name="tagsJson"/> (a JSON object; null for every series), and not of a series whose flags an earlier
    /// delivery of this run to this route already carried (a reopened run owes only its late series).
    /// </summary>
    public async Task<IReadOnlyList<AlertFlag>> FlagsAsync(long runId, string route, string? tagsJson, float minScore,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // alertable_anomaly leaves out muted flags (db/0012): a mute made after the run but before its delivery, which
        // marks the flags already written, keeps them out of the post too.
        var rows = await connection.QueryAsync<AlertFlag>(new CommandDefinition(
            """
            select a.series_id as SeriesId, a.series_key as SeriesKey, a.ts as Ts, a.value as Value, a.forecast as Forecast,
                   a.lower_band as LowerBand, a.upper_band as UpperBand, a.score as Score, a.tags::text as TagsJson
            from alertable_anomaly a
            where a.run_id = @runId
              and a.score >= @minScore
              and (cast(@tagsJson as jsonb) is null or a.tags @> cast(@tagsJson as jsonb))
              and not exists (select 1 from alert_delivery d
                              where d.run_id = @runId and d.route = @route and d.outcome = 'delivered' and a.series_id = any(d.series_ids))
            order by a.series_key, a.ts
            """,
            new { runId, route, tagsJson, minScore }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>
    /// Records how a delivery of one finish of a run to a route ended. A finish delivered again after a failure keeps
    /// one row: its attempts add up, its outcome is the last one.
    /// </summary>
    public async Task RecordAsync(AlertDelivery delivery, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            insert into alert_delivery (run_id, route, run_finished_at, outcome, attempts, status_code, flag_count, series_ids, delivered_at, error)
            values (@RunId, @Route, @RunFinishedAt, @Outcome, @Attempts, @StatusCode, @FlagCount, @SeriesIds, @DeliveredAt, @Error)
            on conflict (run_id, route, run_finished_at) do update
            set outcome = excluded.outcome, attempts = alert_delivery.attempts + excluded.attempts, status_code = excluded.status_code,
                flag_count = excluded.flag_count, series_ids = excluded.series_ids, delivered_at = excluded.delivered_at,
                error = excluded.error, updated_at = now()
            """,
            new
            {
                delivery.RunId, delivery.Route, RunFinishedAt = DateTime.SpecifyKind(delivery.RunFinishedAt, DateTimeKind.Utc),
                Outcome = OutcomeName(delivery.Outcome), delivery.Attempts, delivery.StatusCode, delivery.FlagCount, delivery.SeriesIds,
                DeliveredAt = delivery.DeliveredAt is DateTime at ? DateTime.SpecifyKind(at, DateTimeKind.Utc) : (DateTime?)null,
                delivery.Error,
            },
            cancellationToken: cancellationToken));
    }

    /// <summary>Every delivery of a run, by route and finish.</summary>
    public async Task<IReadOnlyList<AlertDelivery>> OfRunAsync(long runId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<DeliveryRow>(new CommandDefinition(
            """
            select run_id as RunId, route as Route, run_finished_at as RunFinishedAt, outcome as Outcome, attempts as Attempts,
                   status_code as StatusCode, flag_count as FlagCount, series_ids as SeriesIds, delivered_at as DeliveredAt, error as Error
            from alert_delivery where run_id = @runId order by route, run_finished_at
            """,
            new { runId }, cancellationToken: cancellationToken));
        return rows.Select(r => new AlertDelivery(r.RunId, r.Route, r.RunFinishedAt, ParseOutcome(r.Outcome), r.Attempts, r.StatusCode,
            r.FlagCount, r.SeriesIds, r.DeliveredAt, r.Error)).ToList();
    }

    private static string OutcomeName(AlertOutcome outcome) => outcome switch
    {
        AlertOutcome.Delivered => "delivered",
        AlertOutcome.Empty => "empty",
        AlertOutcome.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };

    private static AlertOutcome ParseOutcome(string outcome) => outcome switch
    {
        "delivered" => AlertOutcome.Delivered,
        "empty" => AlertOutcome.Empty,
        "failed" => AlertOutcome.Failed,
        _ => throw new InvalidOperationException($"alert_delivery.outcome '{outcome}' is not one this version knows."),
    };

    private sealed class DeliveryRow
    {
        public long RunId { get; init; }
        public string Route { get; init; } = "";
        public DateTime RunFinishedAt { get; init; }
        public string Outcome { get; init; } = "";
        public int Attempts { get; init; }
        public int? StatusCode { get; init; }
        public int FlagCount { get; init; }
        public int[] SeriesIds { get; init; } = [];
        public DateTime? DeliveredAt { get; init; }
        public string? Error { get; init; }
    }
}
