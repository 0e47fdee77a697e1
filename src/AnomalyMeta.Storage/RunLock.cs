using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>
/// One owner per scoring date: a PostgreSQL session-level advisory lock keyed by the as-of day, held on a connection of
/// its own for as long as the run lasts. Two processes (CLI, service, or one of each, on one machine or several) asked
/// for the same date cannot both score it; when the owner dies, its session ends and the lock is free at once, so the
/// next attempt takes the run over and resumes it. Chosen over an owner-and-heartbeat lease because PostgreSQL already
/// knows when a session is gone: no lease length to tune, no clock to trust.
/// </summary>
public sealed class RunLock : IAsyncDisposable
{
    // First half of the two-int advisory key: the application's namespace ("AMrn"), so other users of advisory locks
    // on the same database cannot collide with ours.
    private const int Namespace = 0x414d726e;

    private readonly NpgsqlConnection _connection;

    private RunLock(NpgsqlConnection connection, DateOnly asOf)
    {
        _connection = connection;
        AsOf = asOf;
    }

    public DateOnly AsOf { get; }

    /// <summary>Takes the lock of <paramref name="asOf"/>, or returns null at once when another session holds it.</summary>
    public static async Task<RunLock?> TryAcquireAsync(NpgsqlDataSource dataSource, DateOnly asOf, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand("select pg_try_advisory_lock(@space, @day)", connection);
            command.Parameters.Add(new NpgsqlParameter<int>("space", Namespace));
            command.Parameters.Add(new NpgsqlParameter<int>("day", asOf.DayNumber));
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true)
            {
                return new RunLock(connection, asOf);
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
            await using var command = new NpgsqlCommand("select pg_advisory_unlock(@space, @day)", _connection);
            command.Parameters.Add(new NpgsqlParameter<int>("space", Namespace));
            command.Parameters.Add(new NpgsqlParameter<int>("day", AsOf.DayNumber));
            await command.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
