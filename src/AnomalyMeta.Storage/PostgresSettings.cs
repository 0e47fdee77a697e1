using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>
/// Where every component finds PostgreSQL: the standard <c>ConnectionStrings__Postgres</c> setting, else the
/// project's local server started by <c>deploy/postgres-local.sh</c>.
/// </summary>
public static class PostgresSettings
{
    public const string DefaultConnectionString =
        "Host=127.0.0.1;Port=54329;Username=anomalymeta;Password=anomalymeta;Database=anomalymeta";

    /// <summary>The environment variable that .NET configuration maps to <c>ConnectionStrings:Postgres</c>.</summary>
    public const string EnvironmentVariable = "ConnectionStrings__Postgres";

    /// <summary>The configured connection string, or the local default when none is configured.</summary>
    public static string Resolve(string? configured) =>
        string.IsNullOrWhiteSpace(configured) ? DefaultConnectionString : configured;

    /// <summary>The connection string from <c>ConnectionStrings__Postgres</c>, or the local default.</summary>
    public static string FromEnvironment() => Resolve(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>
    /// Command timeout when the connection string sets none. Npgsql's 30 s is too short for fleet-scale statements:
    /// saving the assignments of a clustering of 2 million series is one statement of several minutes. Cancellation
    /// (SIGTERM, Ctrl+C) still stops a statement at once.
    /// </summary>
    public const int DefaultCommandTimeoutSeconds = 900;

    /// <summary>
    /// A data source for the repositories. One per process: it owns the connection pool. Without a
    /// "Command Timeout" in the connection string, statements get <see cref="DefaultCommandTimeoutSeconds"/>; without
    /// "Max Auto Prepare", the statements a connection runs twice are prepared (up to <see cref="AutoPreparedStatements"/>);
    /// unless its "Options" set <c>jit</c>, PostgreSQL's JIT is off for its sessions.
    /// </summary>
    public static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new NpgsqlDataSourceBuilder(WithDefaultCommandTimeout(connectionString));
        if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase)
            && !connectionString.Contains("AutoPrepare", StringComparison.OrdinalIgnoreCase))
        {
            // Statements run twice are prepared on their connection: planning a query over the monthly partitions of
            // anomaly took longer than running it (3.3 ms against 2.4 ms for a dashboard page), on every request.
            builder.ConnectionStringBuilder.MaxAutoPrepare = AutoPreparedStatements;
            builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        }
        if (!(builder.ConnectionStringBuilder.Options ?? string.Empty).Contains("jit", StringComparison.OrdinalIgnoreCase))
        {
            // PostgreSQL's JIT compiles the expressions of any plan whose estimated cost passes jit_above_cost, at every
            // execution. The batch reads' lateral joins, as custom plans (the first five executions of a prepared
            // statement, and every unprepared one), are costed far above their real work: JIT took a batch of 4,096
            // series' histories from 110 to 250 ms. Nothing here is an analytical query that JIT would pay back on.
            builder.ConnectionStringBuilder.Options = $"{builder.ConnectionStringBuilder.Options} -c jit=off".Trim();
        }
        return builder.Build();
    }

    /// <summary>
    /// <paramref name="connectionString"/> with a command timeout of <see cref="DefaultCommandTimeoutSeconds"/> when it sets
    /// none. The migrations use it too: a script that moves a fleet's table (db/0024 at 200,000 series and 47
    /// clusterings: 9.4 million rows) outlasts Npgsql's 30 s.
    /// </summary>
    public static string WithDefaultCommandTimeout(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return connectionString.Contains("Command Timeout", StringComparison.OrdinalIgnoreCase)
            || connectionString.Contains("CommandTimeout", StringComparison.OrdinalIgnoreCase)
                ? connectionString
                : new NpgsqlConnectionStringBuilder(connectionString) { CommandTimeout = DefaultCommandTimeoutSeconds }.ConnectionString;
    }

    /// <summary>Statements prepared per connection when the connection string does not say (Npgsql's Max Auto Prepare).</summary>
    public const int AutoPreparedStatements = 100;
}
