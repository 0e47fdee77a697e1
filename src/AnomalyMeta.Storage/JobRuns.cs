using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>One execution of a maintenance job, as the ledger has it.</summary>
public sealed record JobRunLine(long JobRunId, string Kind, string Status, string TriggeredBy, DateTime StartedAt, DateTime? FinishedAt, string Detail, string? Error);

/// <summary>
/// The ledger of the service's maintenance jobs (db/0011 job_run): assigning new series, re-clustering and retraining,
/// drift checks. Each execution is a row from its start, finished as succeeded with what it did or failed with why.
/// </summary>
public sealed class JobRuns(NpgsqlDataSource dataSource)
{
    public async Task<long> StartAsync(string kind, string triggeredBy, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "insert into job_run (kind, status, triggered_by) values (@kind, 'running', @triggeredBy) returning job_run_id",
            new { kind, triggeredBy }, cancellationToken: cancellationToken));
    }

    /// <summary>Ends an execution; <paramref name="detailJson"/> says what it did, <paramref name="error"/> why it failed.</summary>
    public async Task FinishAsync(long jobRunId, bool succeeded, string detailJson, string? error, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "update job_run set status = @status, finished_at = now(), detail = cast(@detailJson as jsonb), error = @error where job_run_id = @jobRunId",
            new { jobRunId, status = succeeded ? "succeeded" : "failed", detailJson, error }, cancellationToken: cancellationToken));
    }

    /// <summary>The newest executions, newest first.</summary>
    public async Task<IReadOnlyList<JobRunLine>> RecentAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<JobRunLine>(new CommandDefinition(
            """
            select job_run_id as JobRunId, kind as Kind, status as Status, triggered_by as TriggeredBy, started_at as StartedAt,
                   finished_at as FinishedAt, detail::text as Detail, error as Error
            from job_run order by job_run_id desc limit @limit
            """,
            new { limit }, cancellationToken: cancellationToken))).AsList();
    }
}
