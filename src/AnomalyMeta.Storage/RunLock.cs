using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>
/// One owner per scoring date: a PostgreSQL session-level advisory lock keyed by the as-of day, held on a connection of
/// its own for as long as the run lasts. Two processes (CLI, service, or one of each, on one machine or several) asked
/// for the same date cannot both score it; when the owner dies, its session ends and the lock is free at once, so the
/// next attempt takes the run over and resumes it. Chosen over an owner-and-heartbeat lease because PostgreSQL already
/// knows when a session is gone: no lease length to tune, no clock to trust. A sharded run's shards hold the date's
/// lock shared (many shards, on many instances, at once) and each shard's own lock exclusive: a whole-run scorer (the
/// CLI) waits for them, and one shard is never scored twice at once.
/// </summary>
public sealed class RunLock : IAsyncDisposable
{
    // First half of the two-int advisory key: the application's namespace ("AMrn"), so other users of advisory locks
    // on the same database cannot collide with ours.
    private const int Namespace = 0x414d726e;

    // The shards' locks ("AMsh"): the second int is the run and shard packed (shards below 1024).
    private const int ShardNamespace = 0x414d7368;

    private readonly NpgsqlConnection _connection;

    private readonly int _space;
    private readonly int _key;
    private readonly bool _shared;

    private RunLock(NpgsqlConnection connection, int space, int key, bool shared)
    {
        _connection = connection;
        _space = space;
        _key = key;
        _shared = shared;
    }

    /// <summary>Takes the lock of <paramref name="asOf"/>, or returns null at once when another session holds it.</summary>
    public static Task<RunLock?> TryAcquireAsync(NpgsqlDataSource dataSource, DateOnly asOf, CancellationToken cancellationToken) =>
        TryAcquireAsync(dataSource, Namespace, asOf.DayNumber, shared: false, cancellationToken);

    /// <summary>Takes the lock of <paramref name="asOf"/> shared with other shards, or null when a whole-run scorer holds it.</summary>
    public static Task<RunLock?> TryAcquireSharedAsync(NpgsqlDataSource dataSource, DateOnly asOf, CancellationToken cancellationToken) =>
        TryAcquireAsync(dataSource, Namespace, asOf.DayNumber, shared: true, cancellationToken);

    /// <summary>Takes one shard's lock, or null when another session is scoring that shard.</summary>
    public static Task<RunLock?> TryAcquireShardAsync(NpgsqlDataSource dataSource, long runId, int shard, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, 1024);
        return TryAcquireAsync(dataSource, ShardNamespace, unchecked((int)(runId << 10) | shard), shared: false, cancellationToken);
    }

    private static async Task<RunLock?> TryAcquireAsync(NpgsqlDataSource dataSource, int space, int key, bool shared, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand(shared ? "select pg_try_advisory_lock_shared(@space, @key)" : "select pg_try_advisory_lock(@space, @key)", connection);
            command.Parameters.Add(new NpgsqlParameter<int>("space", space));
            command.Parameters.Add(new NpgsqlParameter<int>("key", key));
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true)
            {
                return new RunLock(connection, space, key, shared);
            }
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        await connection.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    /// <summary>Releases the lock (closing the session would release it too; a pooled connection must not keep it).</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var command = new NpgsqlCommand(_shared ? "select pg_advisory_unlock_shared(@space, @key)" : "select pg_advisory_unlock(@space, @key)", _connection);
            command.Parameters.Add(new NpgsqlParameter<int>("space", _space));
            command.Parameters.Add(new NpgsqlParameter<int>("key", _key));
            await command.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
