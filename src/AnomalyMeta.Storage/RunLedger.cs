using System.Globalization;
using AnomalyMeta.Core.Series;
using AnomalyMeta.Storage.Records;
using Npgsql;
using NpgsqlTypes;

namespace AnomalyMeta.Storage;

/// <summary>
/// The run ledger: one row per scoring run, one row per series of a run, and the anomalies a run writes.
/// A batch's anomalies and outcomes are committed together with the run's counters in one transaction, so a
/// run interrupted at any point resumes from its committed series and never shows half a batch.
/// </summary>
public sealed class RunLedger
{
    private const string RunColumns =
        "run_id, kind, as_of, status, series_total, series_scored, series_skipped, anomalies_written, batches_done, "
        + "started_at, finished_at, elapsed_ms, triggered_by, reason, error, scope::text";

    private readonly NpgsqlDataSource _dataSource;
    private RunShards? _shards;
    private RunScopeResolver? _scopes;

    public RunLedger(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
    }

    /// <summary>The run lock of <paramref name="asOf"/> (<see cref="RunLock"/>), or null when another session holds it.</summary>
    public Task<RunLock?> TryLockAsync(DateOnly asOf, CancellationToken cancellationToken) =>
        RunLock.TryAcquireAsync(_dataSource, asOf, cancellationToken);

    /// <summary>The run lock of <paramref name="asOf"/> shared with other shards, or null when a whole-run scorer holds it.</summary>
    public Task<RunLock?> TryLockSharedAsync(DateOnly asOf, CancellationToken cancellationToken) =>
        RunLock.TryAcquireSharedAsync(_dataSource, asOf, cancellationToken);

    /// <summary>One shard's lock, or null when another session is scoring that shard.</summary>
    public Task<RunLock?> TryLockShardAsync(long runId, int shard, CancellationToken cancellationToken) =>
        RunLock.TryAcquireShardAsync(_dataSource, runId, shard, cancellationToken);

    /// <summary>The shards of runs split across instances.</summary>
    public RunShards Shards => _shards ??= new RunShards(_dataSource);

    /// <summary>The series a scoped rescore rescores.</summary>
    public RunScopeResolver Scopes => _scopes ??= new RunScopeResolver(_dataSource);

    /// <summary>
    /// Records a rescore the moment it is accepted, as <see cref="RunStatus.Queued"/>; <see cref="StartQueuedAsync"/> with its
    /// id takes it over. <paramref name="scope"/> (null or whole fleet: every series) is recorded with it, so whoever runs
    /// it rescores what was asked. Returns the run.
    /// </summary>
    public async Task<ScoringRunRecord> QueueAsync(DateOnly asOf, string triggeredBy, string? reason, RunScope? scope, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(triggeredBy);
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await QueryRunAsync(connection, null,
                $"""
                insert into run (kind, as_of, status, triggered_by, reason, scope)
                values ('rescore', @asOf, 'queued', @triggeredBy, @reason, @scope)
                returning {RunColumns}
                """,
                command =>
                {
                    command.Parameters.Add(new NpgsqlParameter<DateOnly>("asOf", asOf));
                    command.Parameters.Add(new NpgsqlParameter<string>("triggeredBy", triggeredBy));
                    command.Parameters.Add(new NpgsqlParameter("reason", NpgsqlDbType.Text) { Value = (object?)reason ?? DBNull.Value });
                    command.Parameters.Add(ScopeParameter(scope));
                }, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException("The queued run was not returned by its insert.");
        }
    }

    /// <summary>Queues a rescore of every series (<see cref="QueueAsync(DateOnly, string, string?, RunScope?, CancellationToken)"/>).</summary>
    public Task<ScoringRunRecord> QueueAsync(DateOnly asOf, string triggeredBy, string? reason, CancellationToken cancellationToken) =>
        QueueAsync(asOf, triggeredBy, reason, null, cancellationToken);

    /// <summary>Records the clustering and the models a run scores with.</summary>
    public async Task RecordModelsAsync(long runId, int? clusteringVersion, IReadOnlyCollection<int> modelIds, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand("update run set clustering_version = @clustering, model_ids = @models where run_id = @runId", connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<long>("runId", runId));
                command.Parameters.Add(new NpgsqlParameter("clustering", NpgsqlDbType.Integer) { Value = (object?)clusteringVersion ?? DBNull.Value });
                command.Parameters.Add(new NpgsqlParameter<int[]>("models", [.. modelIds.Order()]));
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Takes over the queued rescore <paramref name="runId"/> (<see cref="QueueAsync(DateOnly, string, string?, RunScope?, CancellationToken)"/>): a queued run starts
    /// (<see cref="RunStartOutcome.Started"/>); one left running or failed by a process that died is resumed
    /// (<see cref="RunStartOutcome.Resumed"/>: skip its completed series); a succeeded one is returned untouched.
    /// </summary>
    public async Task<RunStart> StartQueuedAsync(long runId, int seriesTotal, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(seriesTotal);
        return await _dataSource.InTransactionAsync(
            async (connection, transaction) =>
            {
                var existing = await QueryRunAsync(connection, transaction, $"select {RunColumns} from run where run_id = @runId for update",
                    command => command.Parameters.Add(new NpgsqlParameter<long>("runId", runId)), cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"Run {runId} is not in the ledger: a queued rescore must be recorded before it runs.");
                if (existing.Status == RunStatus.Succeeded)
                {
                    return new RunStart(RunStartOutcome.AlreadySucceeded, existing);
                }
                var started = await QueryRunAsync(connection, transaction,
                    $"""
                    update run
                    set status = 'running', finished_at = null, elapsed_ms = null, error = null, series_total = @seriesTotal,
                        started_at = case when status = 'queued' then now() else started_at end
                    where run_id = @runId
                    returning {RunColumns}
                    """,
                    command =>
                    {
                        command.Parameters.Add(new NpgsqlParameter<long>("runId", runId));
                        command.Parameters.Add(new NpgsqlParameter<int>("seriesTotal", seriesTotal));
                    }, cancellationToken).ConfigureAwait(false);
                return new RunStart(existing.Status == RunStatus.Queued ? RunStartOutcome.Started : RunStartOutcome.Resumed, started!);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts a run. A rescore always gets a new row. A nightly run exists once per <paramref name="asOf"/>: the
    /// first call creates it; later calls return it untouched when it succeeded
    /// (<see cref="RunStartOutcome.AlreadySucceeded"/>, the caller decides to skip; unless series it found without
    /// data have data now) and otherwise set it back to running and return it as <see cref="RunStartOutcome.Resumed"/>
    /// (continue with <see cref="CompletedSeriesAsync(long, CancellationToken)"/>).
    /// A resumed run keeps its first started_at, trigger and counters. A rescore records <paramref name="scope"/> (null:
    /// every series); a nightly run always scores every series.
    /// </summary>
    public async Task<RunStart> StartAsync(
        RunKind kind,
        DateOnly asOf,
        string triggeredBy,
        string? reason,
        int seriesTotal,
        RunScope? scope,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(triggeredBy);
        ArgumentOutOfRangeException.ThrowIfNegative(seriesTotal);
        if (kind == RunKind.Nightly && scope is { IsWholeFleet: false })
        {
            throw new ArgumentException("A nightly run scores every series: only a rescore has a scope.", nameof(scope));
        }

        return await _dataSource.InTransactionAsync(
            async (connection, transaction) =>
            {
                // A nightly run that already exists makes the insert do nothing (partial unique index on as_of),
                // and two concurrent starters of one date end up on the same row.
                var insert = kind == RunKind.Nightly
                    ? $"""
                      insert into run (kind, as_of, status, series_total, triggered_by, reason)
                      values ('nightly', @asOf, 'running', @seriesTotal, @triggeredBy, @reason)
                      on conflict (as_of) where kind = 'nightly' do nothing
                      returning {RunColumns}
                      """
                    : $"""
                      insert into run (kind, as_of, status, series_total, triggered_by, reason, scope)
                      values ('rescore', @asOf, 'running', @seriesTotal, @triggeredBy, @reason, @scope)
                      returning {RunColumns}
                      """;
                var created = await QueryRunAsync(connection, transaction, insert, command =>
                {
                    command.Parameters.Add(new NpgsqlParameter<DateOnly>("asOf", asOf));
                    command.Parameters.Add(new NpgsqlParameter<int>("seriesTotal", seriesTotal));
                    command.Parameters.Add(new NpgsqlParameter<string>("triggeredBy", triggeredBy));
                    command.Parameters.Add(new NpgsqlParameter("reason", NpgsqlDbType.Text) { Value = (object?)reason ?? DBNull.Value });
                    if (kind == RunKind.Rescore)
                    {
                        command.Parameters.Add(ScopeParameter(scope));
                    }
                }, cancellationToken).ConfigureAwait(false);

                if (created is not null)
                {
                    return new RunStart(RunStartOutcome.Started, created);
                }

                var existing = await QueryRunAsync(connection, transaction,
                    $"select {RunColumns} from run where kind = 'nightly' and as_of = @asOf for update",
                    command => command.Parameters.Add(new NpgsqlParameter<DateOnly>("asOf", asOf)), cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"The nightly run of {Day(asOf)} vanished while it was being started.");

                // A succeeded run is done, unless data arrived since for series it found without any: then it is
                // reopened for them (a night scored before the day's feed landed must not stay empty for ever).
                if (existing.Status == RunStatus.Succeeded && !await HasLateDataAsync(connection, transaction, existing, cancellationToken).ConfigureAwait(false))
                {
                    return new RunStart(RunStartOutcome.AlreadySucceeded, existing);
                }

                var resumed = await QueryRunAsync(connection, transaction,
                    $"""
                    update run
                    set status = 'running', finished_at = null, elapsed_ms = null, error = null, series_total = @seriesTotal
                    where run_id = @runId
                    returning {RunColumns}
                    """,
                    command =>
                    {
                        command.Parameters.Add(new NpgsqlParameter<long>("runId", existing.RunId));
                        command.Parameters.Add(new NpgsqlParameter<int>("seriesTotal", seriesTotal));
                    }, cancellationToken).ConfigureAwait(false);

                return new RunStart(RunStartOutcome.Resumed, resumed!);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts a run of every series (<see cref="StartAsync(RunKind, DateOnly, string, string?, int, RunScope?, CancellationToken)"/>).</summary>
    public Task<RunStart> StartAsync(RunKind kind, DateOnly asOf, string triggeredBy, string? reason, int seriesTotal, CancellationToken cancellationToken) =>
        StartAsync(kind, asOf, triggeredBy, reason, seriesTotal, null, cancellationToken);

    /// <summary>
    /// Marks failed every other run of <paramref name="asOf"/> still recorded as running. Call it holding the date's
    /// <see cref="RunLock"/>: no live process can be scoring that date then, so such a run's owner died (a killed
    /// service, a crashed CLI) and the row would otherwise say "running" for ever. Returns the runs marked.
    /// </summary>
    public async Task<IReadOnlyList<long>> FailOrphansAsync(DateOnly asOf, long currentRunId, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(
                """
                update run
                set status = 'failed', finished_at = now(),
                    error = 'its process ended without finishing it (found by run ' || @currentRunId || ', which holds the date now)'
                where as_of = @asOf and status = 'running' and run_id <> @currentRunId
                returning run_id
                """, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<DateOnly>("asOf", asOf));
                command.Parameters.Add(new NpgsqlParameter<long>("currentRunId", currentRunId));
                var marked = new List<long>();
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        marked.Add(reader.GetInt64(0));
                    }
                }
                return marked;
            }
        }
    }

    /// <summary>
    /// Runs that did not finish: nightly runs of the last days left running or failed, and rescores still queued or
    /// left running. The service starts them again when it starts; the ledger makes a second start harmless (a
    /// succeeded run is not scored again, a resumed one skips its committed series).
    /// </summary>
    public async Task<IReadOnlyList<ScoringRunRecord>> UnfinishedAsync(DateOnly nightlySince, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(
                $"""
                select {RunColumns} from run
                where (kind = 'nightly' and status in ('running', 'failed') and as_of >= @since)
                   or (kind = 'rescore' and status in ('queued', 'running'))
                order by run_id
                """, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<DateOnly>("since", nightlySince));
                var runs = new List<ScoringRunRecord>();
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        runs.Add(ReadRun(reader));
                    }
                }
                return runs;
            }
        }
    }

    /// <summary>How many series of the run have <paramref name="status"/>.</summary>
    public async Task<int> CountAsync(long runId, SeriesStatus status, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand("select count(*)::int from run_series where run_id = @runId and status = @status", connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<long>("runId", runId));
                command.Parameters.Add(new NpgsqlParameter<string>("status", LedgerNames.ToDatabase(status)));
                return (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
        }
    }

    /// <summary>The run, or null when there is no such run.</summary>
    public async Task<ScoringRunRecord?> GetAsync(long runId, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await QueryRunAsync(connection, null,
                $"select {RunColumns} from run where run_id = @runId",
                command => command.Parameters.Add(new NpgsqlParameter<long>("runId", runId)), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<bool> HasLateDataAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ScoringRunRecord run,
        CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(
            """
            select exists (
                select 1 from run_series rs join observation_day o on o.series_id = rs.series_id and o.day = @asOf
                where rs.run_id = @runId and rs.status = 'no_data')
            """, connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<long>("runId", run.RunId));
            command.Parameters.Add(new NpgsqlParameter<DateOnly>("asOf", run.AsOf));
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
        }
    }

    /// <summary>
    /// The series a run has committed an outcome for, whatever the status: a resumed run skips them, except series
    /// found without data whose day has arrived since.
    /// </summary>
    public Task<IReadOnlySet<int>> CompletedSeriesAsync(long runId, CancellationToken cancellationToken) =>
        CompletedSeriesAsync(runId, 0, int.MaxValue, cancellationToken);

    /// <summary>
    /// Like <see cref="CompletedSeriesAsync(long, CancellationToken)"/>, for the series with <paramref name="afterSeriesId"/>
    /// &lt; series_id &lt;= <paramref name="lastSeriesId"/>: a shard reads its own range, not the whole run's.
    /// </summary>
    public async Task<IReadOnlySet<int>> CompletedSeriesAsync(long runId, int afterSeriesId, int lastSeriesId, CancellationToken cancellationToken)
    {
        var completed = new HashSet<int>();
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(
                """
                select rs.series_id from run_series rs join run r using (run_id)
                where rs.run_id = @runId and rs.series_id > @after and rs.series_id <= @last
                  and not (rs.status = 'no_data'
                           and exists (select 1 from observation_day o where o.series_id = rs.series_id and o.day = r.as_of))
                """, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<long>("runId", runId));
                command.Parameters.Add(new NpgsqlParameter<int>("after", afterSeriesId));
                command.Parameters.Add(new NpgsqlParameter<int>("last", lastSeriesId));
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        completed.Add(reader.GetInt32(0));
                    }
                }
            }
        }

        return completed;
    }

    /// <summary>
    /// Commits one batch of a running run in one transaction: the batch's anomalies replace every anomaly of its
    /// series for <paramref name="asOf"/> (series of the batch without anomalies lose theirs), each series' outcome is
    /// upserted in run_series, and the run's counters move by the difference with what the run had recorded for these
    /// series before, so recommitting a batch changes nothing but batches_done. An exception leaves nothing of the
    /// batch visible. Every anomaly must belong to a series of <paramref name="outcomes"/> with status Scored.
    /// </summary>
    public async Task CommitBatchAsync(
        long runId,
        DateOnly asOf,
        IReadOnlyList<SeriesOutcome> outcomes,
        IReadOnlyList<AnomalyRow> anomalies,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        ArgumentNullException.ThrowIfNull(anomalies);
        var anomalyCounts = CheckBatch(runId, outcomes, anomalies);
        var seriesIds = new int[outcomes.Count];
        for (var i = 0; i < outcomes.Count; i++)
        {
            seriesIds[i] = outcomes[i].SeriesId;
        }

        await _dataSource.InTransactionAsync(
            async (connection, transaction) =>
            {
                var run = await QueryRunAsync(connection, transaction,
                    $"select {RunColumns} from run where run_id = @runId",
                    command => command.Parameters.Add(new NpgsqlParameter<long>("runId", runId)), cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"Run {runId} does not exist.");
                if (run.AsOf != asOf)
                {
                    throw new InvalidOperationException($"Run {runId} scores {Day(run.AsOf)}, not {Day(asOf)}.");
                }

                if (run.Status != RunStatus.Running)
                {
                    throw new InvalidOperationException($"Run {runId} is {run.Status.ToDatabase()}: only a running run takes batches.");
                }

                await ExecuteAsync(connection, transaction,
                    """
                    create temp table batch_outcome (
                        series_id integer not null, status text not null, detail text null,
                        points_scored integer not null, anomaly_count integer not null,
                        forecast real[] null, scores real[] null, residual_scale real null, residual_peak real null
                    ) on commit drop;
                    create temp table batch_anomaly (
                        series_id integer not null, ts timestamptz not null, value real not null, forecast real not null,
                        lower_band real not null, upper_band real not null, score real not null
                    ) on commit drop;
                    """,
                    cancellationToken).ConfigureAwait(false);

                await CopyOutcomesAsync(connection, outcomes, anomalyCounts, cancellationToken).ConfigureAwait(false);
                await CopyAnomaliesAsync(connection, anomalies, cancellationToken).ConfigureAwait(false);

                var batch = new NpgsqlBatch(connection, transaction);
                await using (batch.ConfigureAwait(false))
                {
                    // Replace, not add: keyed by (as_of, series), a rerun or a rescore of the day leaves one set of flags.
                    batch.BatchCommands.Add(Command(
                        "delete from anomaly where as_of = @asOf and series_id = any(@seriesIds)",
                        new NpgsqlParameter<DateOnly>("asOf", asOf),
                        new NpgsqlParameter<int[]>("seriesIds", seriesIds)));
                    batch.BatchCommands.Add(Command(
                        """
                        insert into anomaly (as_of, series_id, ts, run_id, value, forecast, lower_band, upper_band, score)
                        select @asOf, series_id, ts, @runId, value, forecast, lower_band, upper_band, score from batch_anomaly
                        """,
                        new NpgsqlParameter<DateOnly>("asOf", asOf),
                        new NpgsqlParameter<long>("runId", runId)));
                    // Every CTE sees the snapshot from before the upsert, so "previous" is what the run had recorded
                    // for these series: the counters move by the difference and a recommitted batch adds nothing.
                    // The upsert CTE runs although nothing reads it (PostgreSQL always runs data-modifying CTEs).
                    // "previous" probes the primary key per series (= any), never the run's whole range of rows:
                    // a join with the unanalysed staging table could scan all of a 2-million-series run per batch.
                    batch.BatchCommands.Add(Command(
                        """
                        with previous as (
                            select status, anomaly_count
                            from run_series
                            where run_id = @runId and as_of = @asOf and series_id = any(@seriesIds)
                        ), upserted as (
                            insert into run_series (run_id, series_id, as_of, status, detail, points_scored, anomaly_count, forecast, scores, residual_scale, residual_peak)
                            select @runId, series_id, @asOf, status, detail, points_scored, anomaly_count, forecast, scores, residual_scale, residual_peak from batch_outcome
                            on conflict (run_id, series_id, as_of) do update set
                                status = excluded.status, detail = excluded.detail,
                                points_scored = excluded.points_scored, anomaly_count = excluded.anomaly_count,
                                forecast = excluded.forecast, scores = excluded.scores,
                                residual_scale = excluded.residual_scale, residual_peak = excluded.residual_peak
                        )
                        update run set
                            series_scored = series_scored
                                + (select count(*) from batch_outcome where status = 'scored')
                                - (select count(*) from previous where status = 'scored'),
                            series_skipped = series_skipped
                                + (select count(*) from batch_outcome where status <> 'scored')
                                - (select count(*) from previous where status <> 'scored'),
                            anomalies_written = anomalies_written
                                + (select coalesce(sum(anomaly_count), 0) from batch_outcome)
                                - (select coalesce(sum(anomaly_count), 0) from previous),
                            batches_done = batches_done + 1
                        where run_id = @runId and status = 'running'
                        """,
                        new NpgsqlParameter<long>("runId", runId),
                        new NpgsqlParameter<DateOnly>("asOf", asOf),
                        new NpgsqlParameter<int[]>("seriesIds", seriesIds)));

                    await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    if (batch.BatchCommands[2].RecordsAffected != 1)
                    {
                        // FinishAsync ran between our check and our update: the run is no longer running.
                        throw new InvalidOperationException($"Run {runId} stopped running while a batch was being committed.");
                    }
                }

                // run_series and anomaly have no foreign keys (db/0020: per-row checks cost 6 % of a run): one probe
                // per series of the batch instead. Thrown inside the transaction, so the batch's writes roll back.
                // OFFSET 0 keeps each probe a primary-key lookup: as a merge anti join the planner walked the key
                // index from its start up to the batch (52 ms for the last batch of 200,000 series, 8 ms probing).
                var unknown = new List<int>();
                var probe = new NpgsqlCommand(
                    """
                    select o.series_id from batch_outcome o
                    where not exists (select 1 from series s where s.series_id = o.series_id offset 0)
                    order by o.series_id
                    limit 6
                    """,
                    connection, transaction);
                await using (probe.ConfigureAwait(false))
                {
                    var reader = await probe.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            unknown.Add(reader.GetInt32(0));
                        }
                    }
                }

                if (unknown.Count > 0)
                {
                    throw new ArgumentException(
                        $"Run {runId}: a batch names series that are not registered ({string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? ", …" : "")}); nothing of the batch is written.",
                        nameof(outcomes));
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends a run (also a queued one) as succeeded or failed, with its error, finished_at and elapsed_ms (since its first start).</summary>
    public async Task FinishAsync(long runId, RunStatus status, string? error, CancellationToken cancellationToken)
    {
        if (status is not (RunStatus.Succeeded or RunStatus.Failed))
        {
            throw new ArgumentException("A run finishes as succeeded or failed.", nameof(status));
        }

        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(
                """
                update run set
                    status = @status, error = @error, finished_at = now(),
                    elapsed_ms = (extract(epoch from (now() - started_at)) * 1000)::bigint
                where run_id = @runId
                """,
                connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<long>("runId", runId));
                command.Parameters.Add(new NpgsqlParameter<string>("status", status.ToDatabase()));
                command.Parameters.Add(new NpgsqlParameter("error", NpgsqlDbType.Text) { Value = (object?)error ?? DBNull.Value });
                var updated = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                if (updated != 1)
                {
                    throw new InvalidOperationException($"Run {runId} does not exist.");
                }
            }
        }
    }

    // Checks what PostgreSQL would reject with a message that names no culprit; returns anomalies per series.
    private static Dictionary<int, int> CheckBatch(long runId, IReadOnlyList<SeriesOutcome> outcomes, IReadOnlyList<AnomalyRow> anomalies)
    {
        var statuses = new Dictionary<int, SeriesStatus>(outcomes.Count);
        foreach (var outcome in outcomes)
        {
            if (!statuses.TryAdd(outcome.SeriesId, outcome.Status))
            {
                throw new ArgumentException($"Run {runId}: series {outcome.SeriesId} has two outcomes in one batch.", nameof(outcomes));
            }

            _ = LedgerNames.ToDatabase(outcome.Status);
            ArgumentOutOfRangeException.ThrowIfNegative(outcome.PointsScored, nameof(outcomes));
        }

        var counts = new Dictionary<int, int>();
        var keys = new HashSet<(int SeriesId, DateTimeOffset Ts)>(anomalies.Count);
        foreach (var a in anomalies)
        {
            if (!statuses.TryGetValue(a.SeriesId, out var status) || status != SeriesStatus.Scored)
            {
                throw new ArgumentException(
                    $"Run {runId}: an anomaly of series {a.SeriesId} at {Ts(a.Ts)} has no 'scored' outcome in its batch.", nameof(anomalies));
            }

            // Written as a negated range so NaN fails too.
            if (!(a.Score >= 0f && a.Score <= 1f))
            {
                throw new ArgumentException(
                    $"Run {runId}: series {a.SeriesId} at {Ts(a.Ts)} has score {a.Score.ToString(CultureInfo.InvariantCulture)}, outside [0, 1].",
                    nameof(anomalies));
            }

            if (!keys.Add((a.SeriesId, a.Ts)))
            {
                throw new ArgumentException($"Run {runId}: series {a.SeriesId} is flagged twice at {Ts(a.Ts)}.", nameof(anomalies));
            }

            counts[a.SeriesId] = counts.GetValueOrDefault(a.SeriesId) + 1;
        }

        return counts;
    }

    private static async Task CopyOutcomesAsync(
        NpgsqlConnection connection,
        IReadOnlyList<SeriesOutcome> outcomes,
        Dictionary<int, int> anomalyCounts,
        CancellationToken cancellationToken)
    {
        var importer = await connection.BeginBinaryImportAsync(
            "copy batch_outcome (series_id, status, detail, points_scored, anomaly_count, forecast, scores, residual_scale, residual_peak) from stdin (format binary)",
            cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            foreach (var outcome in outcomes)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(outcome.SeriesId, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(LedgerNames.ToDatabase(outcome.Status), NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                if (outcome.Detail is null)
                {
                    await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await importer.WriteAsync(outcome.Detail, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                }

                await importer.WriteAsync(outcome.PointsScored, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(anomalyCounts.GetValueOrDefault(outcome.SeriesId), NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await WriteRealsAsync(importer, outcome.Forecast, cancellationToken).ConfigureAwait(false);
                await WriteRealsAsync(importer, outcome.Scores, cancellationToken).ConfigureAwait(false);
                await WriteRealAsync(importer, outcome.State?.ResidualScale, cancellationToken).ConfigureAwait(false);
                await WriteRealAsync(importer, outcome.State?.ResidualPeak, cancellationToken).ConfigureAwait(false);
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task WriteRealsAsync(NpgsqlBinaryImporter importer, float[]? values, CancellationToken cancellationToken)
    {
        if (values is null)
        {
            await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await importer.WriteAsync(values, NpgsqlDbType.Array | NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task WriteRealAsync(NpgsqlBinaryImporter importer, float? value, CancellationToken cancellationToken)
    {
        if (value is float real)
        {
            await importer.WriteAsync(real, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task CopyAnomaliesAsync(
        NpgsqlConnection connection,
        IReadOnlyList<AnomalyRow> anomalies,
        CancellationToken cancellationToken)
    {
        var importer = await connection.BeginBinaryImportAsync(
            "copy batch_anomaly (series_id, ts, value, forecast, lower_band, upper_band, score) from stdin (format binary)",
            cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            foreach (var a in anomalies)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(a.SeriesId, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                // timestamptz takes UTC only (Npgsql 6+); the instant is what matters, not the offset it came with.
                await importer.WriteAsync(a.Ts.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(a.Value, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(a.Forecast, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(a.LowerBand, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(a.UpperBand, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(a.Score, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<ScoringRunRecord?> QueryRunAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction? transaction,
        string sql,
        Action<NpgsqlCommand> bind,
        CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            bind(command);
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }

                return ReadRun(reader);
            }
        }
    }

    /// <summary>A run from a reader positioned on a row of <see cref="RunColumns"/>.</summary>
    private static ScoringRunRecord ReadRun(NpgsqlDataReader reader) => new(
        RunId: reader.GetInt64(0),
        Kind: LedgerNames.ParseRunKind(reader.GetString(1)),
        AsOf: reader.GetFieldValue<DateOnly>(2),
        Status: LedgerNames.ParseRunStatus(reader.GetString(3)),
        SeriesTotal: reader.GetInt32(4),
        SeriesScored: reader.GetInt32(5),
        SeriesSkipped: reader.GetInt32(6),
        AnomaliesWritten: reader.GetInt32(7),
        BatchesDone: reader.GetInt32(8),
        StartedAt: reader.GetFieldValue<DateTimeOffset>(9),
        FinishedAt: reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
        ElapsedMs: reader.IsDBNull(11) ? null : reader.GetInt64(11),
        TriggeredBy: reader.GetString(12),
        Reason: reader.IsDBNull(13) ? null : reader.GetString(13),
        Error: reader.IsDBNull(14) ? null : reader.GetString(14),
        Scope: RunScope.FromJson(reader.IsDBNull(15) ? null : reader.GetString(15)));

    private static NpgsqlParameter ScopeParameter(RunScope? scope) =>
        new("scope", NpgsqlDbType.Jsonb) { Value = (object?)scope?.ToJson() ?? DBNull.Value };

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static NpgsqlBatchCommand Command(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string Ts(DateTimeOffset ts) => ts.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
