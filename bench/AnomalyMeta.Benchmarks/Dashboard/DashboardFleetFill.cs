using System.Diagnostics;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Benchmarks.Dashboard;

/// <summary>What <see cref="DashboardFleetFill"/> wrote, and how long each part took.</summary>
public sealed record DashboardFleetFigures(int Series, int Days, DateOnly FirstDay, DateOnly LastDay, long Anomalies, long RunSeries,
    double SeriesSeconds, double AnomalySeconds, double VacuumSeconds);

/// <summary>
/// A scored fleet's footprint without the model, for the dashboard's read benchmark: N registered series with tags
/// (region: 4 values, team: 20, env: 2) in 40 clusters, one succeeded nightly run per day, and a day's flags as the
/// scorer leaves them: a share of the series carries one event of 1 to 9 consecutive hourly flags (5 on average), so
/// the day has <c>flagsPerSeriesDay</c> × N flags. The demo's day has 12,213 flags on 10,000 series (1.22). The last
/// day's run also gets its run_series rows (a few series skipped), for the ledger's counts per status. Rows are made by
/// PostgreSQL itself (generate_series, a fixed random seed): nothing crosses the wire but the statements. The flags'
/// indexes are built after them, in bulk: denser than a month of nightly inserts leaves them.
/// </summary>
public static class DashboardFleetFill
{
    /// <summary>Clusters the series are spread over.</summary>
    public const int Clusters = 40;

    /// <summary>Mean length of one event, in flagged points (uniform over 1 to 9).</summary>
    private const double MeanEventPoints = 5.0;

    public static async Task<DashboardFleetFigures> FillAsync(string connectionString, int seriesCount, int days, double flagsPerSeriesDay,
        DateOnly lastDay, Action<string> progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seriesCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(days, 1);
        ArgumentNullException.ThrowIfNull(progress);
        if (flagsPerSeriesDay is not (> 0 and <= MeanEventPoints))
        {
            throw new ArgumentOutOfRangeException(nameof(flagsPerSeriesDay), flagsPerSeriesDay, $"flags per series-day must be above 0 and at most {MeanEventPoints}.");
        }
        var firstDay = lastDay.AddDays(1 - days);
        // Each statement runs for minutes at 2 million series: no command timeout.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { CommandTimeout = 0 }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("select setseed(0.42)", cancellationToken: cancellationToken));
        var clock = Stopwatch.StartNew();

        await connection.ExecuteAsync(new CommandDefinition(
            """
            insert into clustering (cluster_version, method, series_count, live_at) values (1, 'bench dashboard', @seriesCount, now());
            insert into cluster (cluster_version, cluster_id, primary_period, secondary_period, series_count)
            select 1, c, 24, 168, 0 from generate_series(0, @clusters - 1) c;
            insert into series (series_key, tags, step_seconds, primary_period, secondary_period, period_status, cluster_version, cluster_id)
            select 'bench-' || lpad(i::text, 7, '0'),
                   jsonb_build_object('region', (array['eu', 'us', 'apac', 'latam'])[i % 4 + 1], 'team', 'team-' || (i % 20),
                                      'env', case when i % 10 = 0 then 'staging' else 'prod' end),
                   3600, 24, 168, 'periodic', 1, i % @clusters
            from generate_series(1, @seriesCount) i;
            insert into run (kind, as_of, status, series_total, series_scored, batches_done, started_at, finished_at, elapsed_ms, triggered_by, clustering_version)
            select 'nightly', d::date, 'succeeded', @seriesCount, @seriesCount, 1, d + interval '6 hours', d + interval '6 hours 5 minutes', 300000, 'bench dashboard', 1
            from generate_series(@firstDay::timestamp, @lastDay::timestamp, interval '1 day') d;
            """,
            new { seriesCount, clusters = Clusters, firstDay, lastDay }, cancellationToken: cancellationToken));
        double seriesSeconds = clock.Elapsed.TotalSeconds;
        progress($"{seriesCount:N0} series and {days} runs in {seriesSeconds:F1} s");

        clock.Restart();
        // Inserting 73 M flags at 2 M series through anomaly's five indexes took over an hour (each day's rows land all
        // over the per-series index). They are dropped for the fill and built again after it, as they are defined now.
        var indexes = await DropIndexesAsync(connection, "anomaly", cancellationToken);
        long anomalies = 0;
        for (var day = firstDay; day <= lastDay; day = day.AddDays(1))
        {
            // One event per flagged series: a start hour that keeps the event within the day, then its points.
            long written = await connection.ExecuteAsync(new CommandDefinition(
                """
                insert into anomaly (as_of, series_id, ts, run_id, value, forecast, lower_band, upper_band, score)
                select @day, e.series_id, (@day::timestamp + make_interval(hours => e.start_hour + k)) at time zone 'UTC',
                       (select run_id from run where as_of = @day and kind = 'nightly'),
                       e.forecast + e.jump, e.forecast, e.forecast - 5, e.forecast + 5, (0.5 + 0.5 * random() ^ 2)::real
                from (
                    select i as series_id, len, floor(random() * (25 - len))::int as start_hour,
                           (100 + 10 * random())::real as forecast, ((8 + 20 * random()) * (case when random() < 0.5 then -1 else 1 end))::real as jump
                    from (select i, 1 + floor(random() * 9)::int as len from generate_series(1, @seriesCount) i where random() < @share) flagged
                ) e
                cross join lateral generate_series(0, e.len - 1) k
                """,
                new { day, seriesCount, share = flagsPerSeriesDay / MeanEventPoints }, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "update run set anomalies_written = @written where as_of = @day and kind = 'nightly'", new { written, day }, cancellationToken: cancellationToken));
            anomalies += written;
            progress($"{day:yyyy-MM-dd}: {written:N0} flags ({anomalies:N0} in all, {clock.Elapsed.TotalSeconds:F0} s)");
        }
        var indexClock = Stopwatch.StartNew();
        await RestoreIndexesAsync(connection, indexes, cancellationToken);
        progress($"anomaly's {indexes.Count} indexes built again in {indexClock.Elapsed.TotalSeconds:F0} s");
        long runSeries = await connection.ExecuteAsync(new CommandDefinition(
            """
            insert into run_series (run_id, series_id, as_of, status, detail, points_scored, anomaly_count)
            select (select run_id from run where as_of = @lastDay and kind = 'nightly'), i, @lastDay,
                   case when i % 100 = 7 then 'no_data' when i % 200 = 11 then 'too_short' else 'scored' end,
                   null, 24, 0
            from generate_series(1, @seriesCount) i
            """,
            new { lastDay, seriesCount }, cancellationToken: cancellationToken));
        double anomalySeconds = clock.Elapsed.TotalSeconds;

        // As autovacuum would leave them after a night: planner statistics and the visibility map.
        clock.Restart();
        await connection.ExecuteAsync(new CommandDefinition("vacuum analyze series, run, run_series, anomaly", cancellationToken: cancellationToken));
        double vacuumSeconds = clock.Elapsed.TotalSeconds;
        progress($"vacuum analyze in {vacuumSeconds:F1} s");
        return new DashboardFleetFigures(seriesCount, days, firstDay, lastDay, anomalies, runSeries, seriesSeconds, anomalySeconds, vacuumSeconds);
    }

    /// <summary>
    /// Drops a partitioned table's indexes (its primary key too) and returns the statements that make them again, read
    /// from the catalog: the benchmark rebuilds what the migrations define, whatever that is at the time.
    /// </summary>
    private static async Task<IReadOnlyList<string>> DropIndexesAsync(NpgsqlConnection connection, string table, CancellationToken cancellationToken)
    {
        var found = (await connection.QueryAsync<(string Name, string Definition, string? Constraint, string? ConstraintDefinition)>(new CommandDefinition(
            """
            select i.relname, pg_get_indexdef(i.oid), c.conname, pg_get_constraintdef(c.oid)
            from pg_index x join pg_class i on i.oid = x.indexrelid
            left join pg_constraint c on c.conindid = i.oid and c.conrelid = x.indrelid
            where x.indrelid = @table::regclass
            """,
            new { table }, cancellationToken: cancellationToken))).AsList();
        var restore = new List<string>();
        foreach (var (name, definition, constraint, constraintDefinition) in found)
        {
            if (constraint is not null)
            {
                await connection.ExecuteAsync(new CommandDefinition($"alter table {table} drop constraint {constraint}", cancellationToken: cancellationToken));
                restore.Add($"alter table {table} add constraint {constraint} {constraintDefinition}");
            }
            else
            {
                await connection.ExecuteAsync(new CommandDefinition($"drop index {name}", cancellationToken: cancellationToken));
                // The parent's definition says ON ONLY; built on the whole table, it makes the partitions' indexes too.
                restore.Add(definition.Replace(" ON ONLY ", " ON ", StringComparison.Ordinal));
            }
        }
        return restore;
    }

    private static async Task RestoreIndexesAsync(NpgsqlConnection connection, IReadOnlyList<string> statements, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition("set maintenance_work_mem = '1GB'", cancellationToken: cancellationToken));
        foreach (string statement in statements)
        {
            await connection.ExecuteAsync(new CommandDefinition(statement, cancellationToken: cancellationToken));
        }
        await connection.ExecuteAsync(new CommandDefinition("reset maintenance_work_mem", cancellationToken: cancellationToken));
    }
}
