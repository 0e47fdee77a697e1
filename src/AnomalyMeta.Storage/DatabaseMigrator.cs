using DbUp;
using DbUp.Engine.Output;
using DbUp.ScriptProviders;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>
/// Applies the SQL migrations of the repository's <c>db/</c> folder with DbUp: each script once, in file-name
/// order, each in its own transaction, recorded in the <c>schemaversions</c> journal table.
/// </summary>
public static class DatabaseMigrator
{
    /// <summary>DbUp's journal; the schema's header comment names it, so keep them in step.</summary>
    public const string JournalTable = "schemaversions";

    /// <summary>
    /// Creates the database when it does not exist, then applies the scripts of <paramref name="migrationsDirectory"/>
    /// that the journal does not list yet. Throws <see cref="InvalidOperationException"/> naming the failing script;
    /// that script's transaction is rolled back and the scripts before it stay applied.
    /// </summary>
    /// <returns>The scripts applied by this call, in order (empty when the database was up to date).</returns>
    public static IReadOnlyList<string> Migrate(string connectionString, string migrationsDirectory, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(migrationsDirectory);
        if (!Directory.Exists(migrationsDirectory))
        {
            throw new DirectoryNotFoundException($"Migrations directory '{migrationsDirectory}' does not exist.");
        }

        IUpgradeLog log = logger is null ? new NoOpUpgradeLog() : new MicrosoftUpgradeLog(logger);
        EnsureDatabase.For.PostgresqlDatabase(connectionString, log);

        var engine = DeployChanges.To
            .PostgresqlDatabase(PostgresSettings.WithDefaultCommandTimeout(connectionString))
            .WithScriptsFromFileSystem(migrationsDirectory, new FileSystemScriptOptions
            {
                IncludeSubDirectories = false,
            })
            .JournalToPostgresqlTable("public", JournalTable)
            // A script that fails half way must not leave half a schema behind.
            .WithTransactionPerScript()
            .LogTo(log)
            .Build();

        var result = engine.PerformUpgrade();
        if (!result.Successful)
        {
            var script = result.ErrorScript?.Name ?? "(unknown script)";
            throw new InvalidOperationException(
                $"Migration '{script}' in '{migrationsDirectory}' failed: {result.Error?.Message}", result.Error);
        }

        return [.. result.Scripts.Select(s => s.Name)];
    }

    /// <summary>
    /// Why <paramref name="connectionString"/> cannot serve this version, in one line naming the database, or null
    /// when it can: unreachable, no such database, or scripts of <paramref name="migrationsDirectory"/> not applied.
    /// Services call it at start, so a wrong setting is one clear line instead of a scheduler's stack trace.
    /// </summary>
    public static string? Unusable(string connectionString, string migrationsDirectory)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        string where = $"database '{settings.Database}' on {settings.Host}:{settings.Port} as '{settings.Username}'";
        try
        {
            using var connection = new NpgsqlConnection(connectionString);
            connection.Open();
            using var command = new NpgsqlCommand($"select scriptname from {JournalTable}", connection);
            var applied = new HashSet<string>(StringComparer.Ordinal);
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    applied.Add(reader.GetString(0));
                }
            }
            var missing = Directory.EnumerateFiles(migrationsDirectory, "*.sql").Select(Path.GetFileName).Where(n => !applied.Contains(n!)).Order().ToList();
            return missing.Count == 0 ? null
                : $"{where} lacks migrations {string.Join(", ", missing)}: run `anomalymeta migrate` with the same connection string.";
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return $"{where} has no AnomalyMeta schema: run `anomalymeta migrate` with the same connection string.";
        }
        catch (Exception exception) when (exception is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            return $"cannot use {where}: {exception.Message}";
        }
    }

    /// <summary>
    /// The <c>db/</c> folder shipped next to the running app (the Storage project copies <c>db/*.sql</c> to every
    /// output); failing that, the first <c>db/</c> with SQL files in a parent directory (a source checkout).
    /// </summary>
    public static string FindMigrationsDirectory()
    {
        var shipped = Path.Combine(AppContext.BaseDirectory, "db");
        if (ContainsScripts(shipped))
        {
            return shipped;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory).Parent; dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "db");
            if (ContainsScripts(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException(
            $"No db/*.sql next to {AppContext.BaseDirectory} nor in any parent directory: does the app reference AnomalyMeta.Storage?");
    }

    private static bool ContainsScripts(string directory) =>
        Directory.Exists(directory) && Directory.EnumerateFiles(directory, "*.sql").Any();
}
