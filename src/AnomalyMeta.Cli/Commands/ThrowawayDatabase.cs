using AnomalyMeta.Storage;
using Npgsql;

namespace AnomalyMeta.Cli.Commands;

/// <summary>The databases the demo and the evaluations create for themselves on the configured server.</summary>
internal static class ThrowawayDatabase
{
    /// <summary>The configured server, with the configured database's name + "_" + <paramref name="suffix"/>.</summary>
    public static NpgsqlConnectionStringBuilder Beside(string suffix)
    {
        var builder = new NpgsqlConnectionStringBuilder(CliHost.ConnectionString());
        builder.Database = $"{builder.Database}_{suffix}";
        return builder;
    }

    /// <summary>Drops <paramref name="target"/>'s database if it exists and creates it anew with every migration of db/.</summary>
    public static async Task RecreateAsync(NpgsqlConnectionStringBuilder target, CancellationToken cancellationToken)
    {
        await DropAsync(target, cancellationToken);
        DatabaseMigrator.Migrate(target.ConnectionString, DatabaseMigrator.FindMigrationsDirectory());
    }

    /// <summary>Drops <paramref name="target"/>'s database if it exists, disconnecting whoever still uses it.</summary>
    public static async Task DropAsync(NpgsqlConnectionStringBuilder target, CancellationToken cancellationToken)
    {
        var admin = new NpgsqlConnectionStringBuilder(target.ConnectionString) { Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(admin.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var drop = new NpgsqlCommand($"drop database if exists \"{target.Database}\" with (force)", connection);
        await drop.ExecuteNonQueryAsync(cancellationToken);
        // Connections this process pooled to the dropped database were terminated with it (57P01 on next use).
        NpgsqlConnection.ClearAllPools();
    }
}
