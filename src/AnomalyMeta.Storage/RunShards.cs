using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>One shard of a run: a series_id range, its state, and every instance that took it (the last one finished it).</summary>
public sealed record RunShard(long RunId, int Shard, int FirstSeriesId, int LastSeriesId, string Status, string[] Instances, int SeriesDone);

/// <summary>
/// The shards of runs split across service instances: planned once per run (series_id ranges of about equal size,
/// the last open-ended so a series registered meanwhile is still scored), taken and finished by whichever instance
/// runs the shard's Quartz job. The run is finished by the instance that finishes its last shard.
/// </summary>
public sealed class RunShards(NpgsqlDataSource dataSource)
{
    private const string Columns =
        "run_id as RunId, shard as Shard, first_series_id as FirstSeriesId, last_series_id as LastSeriesId, status as Status, "
        + "instances as Instances, series_done as SeriesDone";

    /// <summary>
    /// The run's shards, planned now into <paramref name="shards"/> series_id ranges if the run has none yet (a second
    /// planner of the same run gets the first one's plan). Shards left running or failed by an earlier attempt are set
    /// back to pending. Returns every shard.
    /// </summary>
    public async Task<IReadOnlyList<RunShard>> PlanAsync(long runId, int shards, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shards, 1023);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            insert into run_shard (run_id, shard, first_series_id, last_series_id)
            select @runId, t - 1,
                   coalesce(lag(last_id) over (order by t), 0) + 1,
                   case when t = max(t) over () then 2147483647 else last_id end
            from (select t, max(series_id) as last_id
                  from (select series_id, ntile(@shards) over (order by series_id) as t from series) s
                  group by t) ranges
            where not exists (select 1 from run_shard where run_id = @runId)
            on conflict do nothing;
            update run_shard set status = 'pending', error = null where run_id = @runId and status in ('running', 'failed');
            """,
            new { runId, shards }, cancellationToken: cancellationToken));
        return await ListAsync(connection, runId, cancellationToken);
    }

    /// <summary>Every shard of a run, in shard order.</summary>
    public async Task<IReadOnlyList<RunShard>> ListAsync(long runId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await ListAsync(connection, runId, cancellationToken);
    }

    /// <summary>
    /// Takes a shard for <paramref name="instance"/> (call it holding the shard's lock): running, the instance added to
    /// its list. Null when the shard is already done (a recovered or repeated job has nothing to do).
    /// </summary>
    public async Task<RunShard?> StartAsync(long runId, int shard, string instance, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<ShardRow>(new CommandDefinition(
            $"""
            update run_shard set status = 'running', instances = array_append(instances, @instance), started_at = now(), error = null
            where run_id = @runId and shard = @shard and status <> 'done'
            returning {Columns}
            """,
            new { runId, shard, instance }, cancellationToken: cancellationToken));
        return row?.ToShard();
    }

    /// <summary>Marks a shard done with the series it committed.</summary>
    public Task FinishAsync(long runId, int shard, int seriesDone, CancellationToken cancellationToken) =>
        ExecuteAsync("update run_shard set status = 'done', series_done = series_done + @seriesDone, finished_at = now() where run_id = @runId and shard = @shard",
            new { runId, shard, seriesDone }, cancellationToken);

    /// <summary>Marks a shard failed with the reason.</summary>
    public Task FailAsync(long runId, int shard, string error, CancellationToken cancellationToken) =>
        ExecuteAsync("update run_shard set status = 'failed', error = @error, finished_at = now() where run_id = @runId and shard = @shard",
            new { runId, shard, error }, cancellationToken);

    /// <summary>
    /// Finishes the run as succeeded when every shard is done and it is still running; true for the one caller that
    /// did it (two shards ending at once: the second finds the run no longer running).
    /// </summary>
    public async Task<bool> TryCompleteRunAsync(long runId, string? warning, CancellationToken cancellationToken) =>
        await ExecuteAsync(
            """
            update run set status = 'succeeded', error = @warning, finished_at = now(),
                elapsed_ms = (extract(epoch from (now() - started_at)) * 1000)::bigint
            where run_id = @runId and status = 'running'
              and not exists (select 1 from run_shard where run_id = @runId and status <> 'done')
            """,
            new { runId, warning }, cancellationToken) == 1;

    private static async Task<IReadOnlyList<RunShard>> ListAsync(NpgsqlConnection connection, long runId, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<ShardRow>(new CommandDefinition(
            $"select {Columns} from run_shard where run_id = @runId order by shard", new { runId }, cancellationToken: cancellationToken)))
        .Select(r => r.ToShard()).ToList();

    private async Task<int> ExecuteAsync(string sql, object parameters, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
    }

    // Dapper builds records from positional constructors but reads text[] as System.Array there: a row class instead.
    private sealed class ShardRow
    {
        public long RunId { get; init; }

        public int Shard { get; init; }

        public int FirstSeriesId { get; init; }

        public int LastSeriesId { get; init; }

        public string Status { get; init; } = "";

        public string[] Instances { get; init; } = [];

        public int SeriesDone { get; init; }

        public RunShard ToShard() => new(RunId, Shard, FirstSeriesId, LastSeriesId, Status, Instances, SeriesDone);
    }
}
