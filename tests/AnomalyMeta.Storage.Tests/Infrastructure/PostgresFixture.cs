using System.Net.Sockets;
using AnomalyMeta.Storage;
using Npgsql;

namespace AnomalyMeta.Testing;

/// <summary>
/// A throwaway PostgreSQL database for one test collection: created on the server named by
/// <c>ConnectionStrings__Postgres</c> (default: the local server of <c>deploy/postgres-local.sh</c>), migrated with
/// <c>db/</c>, dropped afterwards. No server means every test of the collection fails, never skips.
/// Depends only on AnomalyMeta.Storage, Npgsql and xunit, so other test projects can link this file.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private readonly string _serverConnectionString;
    private NpgsqlDataSource? _dataSource;

    public PostgresFixture()
    {
        var configured = new NpgsqlConnectionStringBuilder(PostgresSettings.FromEnvironment())
        {
            // Fail in seconds, not after the default 15 s per attempt, when the server is down.
            Timeout = 5,
        };
        _serverConnectionString = configured.ConnectionString;
        DatabaseName = "anomalymeta_test_" + Guid.NewGuid().ToString("N")[..12];
        ConnectionString = new NpgsqlConnectionStringBuilder(_serverConnectionString) { Database = DatabaseName }.ConnectionString;
    }

    public string DatabaseName { get; }

    public string ConnectionString { get; }

    public NpgsqlDataSource DataSource =>
        _dataSource ?? throw new InvalidOperationException("The fixture's database is not ready: InitializeAsync failed or did not run.");

    public async Task InitializeAsync()
    {
        await using (var server = await OpenServerAsync(_serverConnectionString))
        {
            await using var create = new NpgsqlCommand($"create database \"{DatabaseName}\"", server);
            await create.ExecuteNonQueryAsync();
        }

        DatabaseMigrator.Migrate(ConnectionString, DatabaseMigrator.FindMigrationsDirectory());
        _dataSource = PostgresSettings.CreateDataSource(ConnectionString);
    }

    public async Task DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        // DbUp's connections sit in Npgsql's global pool; FORCE ends them along with anything a test left open.
        NpgsqlConnection.ClearAllPools();
        await using var server = await OpenServerAsync(_serverConnectionString);
        await using var drop = new NpgsqlCommand($"drop database if exists \"{DatabaseName}\" with (force)", server);
        await drop.ExecuteNonQueryAsync();
    }

    /// <summary>Opens a connection to the configured database, failing with what to do when the server is down.</summary>
    public static async Task<NpgsqlConnection> OpenServerAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync();
            return connection;
        }
        catch (Exception ex) when (ex is NpgsqlException or SocketException or TimeoutException)
        {
            await connection.DisposeAsync();
            var settings = new NpgsqlConnectionStringBuilder(connectionString);
            throw new InvalidOperationException(
                $"PostgreSQL is not reachable at {settings.Host}:{settings.Port} as {settings.Username} ({ex.Message}). "
                + "Run ./deploy/postgres-local.sh first, or set ConnectionStrings__Postgres to a server where that role may CREATE DATABASE.",
                ex);
        }
    }

    /// <summary>The configured server's connection string pointed at another database (for tests that need their own).</summary>
    public string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder(_serverConnectionString) { Database = database }.ConnectionString;

    /// <summary>Drops a database a test created, ending its sessions.</summary>
    public async Task DropDatabaseAsync(string database)
    {
        NpgsqlConnection.ClearAllPools();
        await using var server = await OpenServerAsync(_serverConnectionString);
        await using var drop = new NpgsqlCommand($"drop database if exists \"{database}\" with (force)", server);
        await drop.ExecuteNonQueryAsync();
    }
}
