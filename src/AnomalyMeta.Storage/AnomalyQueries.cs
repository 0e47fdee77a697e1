using AnomalyMeta.Storage.Records;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>One flagged point, as dashboards and evaluations read it.</summary>
public sealed record FlaggedPoint(string SeriesKey, DateTime Ts, float Value, float Forecast, float Score);

/// <summary>
/// One line of the run ledger for the on-call engineer; <paramref name="ModelIds"/> lists the models the run scored with ("12,13,31");
/// <see cref="Scope"/> is what a scoped rescore rescored (null: every series), read from <paramref name="ScopeJson"/>.
/// </summary>
public sealed record RunLine(long RunId, string Kind, DateOnly AsOf, string Status, int SeriesTotal, int SeriesScored, int SeriesSkipped,
    int AnomaliesWritten, long? ElapsedMs, string TriggeredBy, string? Reason, string? Error, int? ClusteringVersion, string? ModelIds,
    [property: System.Text.Json.Serialization.JsonIgnore] string? ScopeJson = null)
{
    public RunScope? Scope => RunScope.FromJson(ScopeJson);
}

/// <summary>What one run did with one series.</summary>
public sealed record SeriesRunLine(string SeriesKey, string Status, string? Detail, int PointsScored, int AnomalyCount);

/// <summary>What one series went through in one run, for its history across runs.</summary>
public sealed record SeriesHistoryLine(long RunId, string Kind, DateOnly AsOf, string Status, string? Detail, int PointsScored, int AnomalyCount);

/// <summary>The scores of one series' scoring day, from the latest run that scored it (NaN where a point was missing).</summary>
public sealed record ScoredDay(string SeriesKey, int StepSeconds, DateOnly AsOf, float[] Scores, float[] Forecast, string? Detail);

/// <summary>Small read queries for dashboards, the API and evaluations (Dapper; bulk paths live elsewhere).</summary>
public sealed class AnomalyQueries(NpgsqlDataSource dataSource)
{
    /// <summary>Every anomaly of a scoring day, whichever run wrote it last.</summary>
    public async Task<IReadOnlyList<FlaggedPoint>> FlaggedOnAsync(DateOnly asOf, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<FlaggedPoint>(new CommandDefinition(
            """
            select s.series_key as SeriesKey, a.ts as Ts, a.value as Value, a.forecast as Forecast, a.score as Score
            from anomaly a join series s using (series_id)
            where a.as_of = @asOf
            order by s.series_key, a.ts
            """,
            new { asOf }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>
    /// Every scored series-day with its per-point scores and forecast, from the latest run that scored it: what an
    /// evaluation compares with the truth, and what a series page draws.
    /// </summary>
    public async Task<IReadOnlyList<ScoredDay>> ScoredDaysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<ScoredDayRow>(new CommandDefinition(
            """
            select distinct on (rs.series_id, r.as_of)
                   s.series_key as SeriesKey, s.step_seconds as StepSeconds, r.as_of as AsOf,
                   rs.scores as Scores, rs.forecast as Forecast, rs.detail as Detail
            from run_series rs join run r using (run_id) join series s using (series_id)
            where rs.status = 'scored' and rs.scores is not null
            order by rs.series_id, r.as_of, r.run_id desc
            """,
            cancellationToken: cancellationToken));
        return rows.Select(r => new ScoredDay(r.SeriesKey, r.StepSeconds, DateOnly.FromDateTime(r.AsOf), r.Scores, r.Forecast, r.Detail)).ToList();
    }

    // Dapper materialises real[] into a settable float[] property, not into a record's constructor.
    private sealed class ScoredDayRow
    {
        public string SeriesKey { get; init; } = "";

        public int StepSeconds { get; init; }

        public DateTime AsOf { get; init; }

        public float[] Scores { get; init; } = [];

        public float[] Forecast { get; init; } = [];

        public string? Detail { get; init; }
    }

    /// <summary>
    /// Each series' detector state at the end of <paramref name="asOf"/> (from the latest run that scored it that day)
    /// and its last flag of that day, for the series of <paramref name="seriesIds"/> that have either.
    /// </summary>
    public async Task<IReadOnlyDictionary<int, DetectorState>> DetectorStatesAsync(DateOnly asOf, int[] seriesIds, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(int SeriesId, float? Scale, float? Peak, DateTime? LastFlag)>(new CommandDefinition(
            """
            with ids as (select unnest(@seriesIds) as series_id),
                 runs as (select run_id from run where as_of = @asOf)
            select ids.series_id,
                   state.residual_scale, state.residual_peak,
                   (select max(a.ts) from anomaly a where a.as_of = @asOf and a.series_id = ids.series_id)
            from ids
            left join lateral (
                select rs.residual_scale, rs.residual_peak
                from run_series rs
                where rs.run_id in (select run_id from runs) and rs.as_of = @asOf and rs.series_id = ids.series_id and rs.status = 'scored'
                order by rs.run_id desc
                limit 1
            ) state on true
            """,
            new { asOf, seriesIds }, cancellationToken: cancellationToken));
        var states = new Dictionary<int, DetectorState>();
        foreach (var row in rows)
        {
            if (row.Scale is null && row.LastFlag is null)
            {
                continue;
            }
            states[row.SeriesId] = new DetectorState(row.Scale ?? float.NaN, row.Peak ?? float.NaN,
                row.LastFlag is DateTime flag ? DateTime.SpecifyKind(flag, DateTimeKind.Utc) : null);
        }
        return states;
    }

    /// <summary>The most recent runs, newest first.</summary>
    public async Task<IReadOnlyList<RunLine>> RecentRunsAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<RunLine>(new CommandDefinition(
            $"select {RunLineColumns} from run order by run_id desc limit @limit", new { limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>One run of the ledger, or null.</summary>
    public async Task<RunLine?> RunAsync(long runId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<RunLine>(new CommandDefinition(
            $"select {RunLineColumns} from run where run_id = @runId", new { runId }, cancellationToken: cancellationToken));
    }

    private const string RunLineColumns =
        """
        run_id as RunId, kind as Kind, as_of as AsOf, status as Status, series_total as SeriesTotal, series_scored as SeriesScored,
        series_skipped as SeriesSkipped, anomalies_written as AnomaliesWritten, elapsed_ms as ElapsedMs,
        triggered_by as TriggeredBy, reason as Reason, error as Error, clustering_version as ClusteringVersion, array_to_string(model_ids, ',') as ModelIds,
        scope::text as ScopeJson
        """;

    /// <summary>Every series' outcome in a run: what the on-call engineer reads when a series was not scored.</summary>
    public async Task<IReadOnlyList<SeriesRunLine>> SeriesOfRunAsync(long runId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<SeriesRunLine>(new CommandDefinition(
            """
            select s.series_key as SeriesKey, r.status as Status, r.detail as Detail, r.points_scored as PointsScored,
                   r.anomaly_count as AnomalyCount
            from run_series r join series s using (series_id)
            where r.run_id = @runId
            order by s.series_key
            """,
            new { runId }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>
    /// One series across its latest runs, newest first: "was this series scored last week, and if not, why?"
    /// (served by the run_series_by_series index). Empty for an unknown key.
    /// </summary>
    public async Task<IReadOnlyList<SeriesHistoryLine>> SeriesHistoryAsync(string seriesKey, int limit, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(seriesKey);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<SeriesHistoryLine>(new CommandDefinition(
            """
            select r.run_id as RunId, r.kind as Kind, r.as_of as AsOf, rs.status as Status, rs.detail as Detail,
                   rs.points_scored as PointsScored, rs.anomaly_count as AnomalyCount
            from series s
            join run_series rs using (series_id)
            join run r using (run_id)
            where s.series_key = @seriesKey
            order by rs.run_id desc
            limit @limit
            """,
            new { seriesKey, limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>How many series are registered: the denominator of a run.</summary>
    public async Task<int> SeriesCountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition("select count(*)::int from series", cancellationToken: cancellationToken));
    }
}
