using AnomalyMeta.Core.Series;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Dapper;

namespace AnomalyMeta.Storage.Tests;

/// <summary>Monthly partitions of the growing tables (db/0010), in a database of their own: retention deletes rows.</summary>
public sealed class PartitionTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private readonly Partitions _partitions = new(postgres.DataSource);
    private readonly SeriesRepository _series = new(postgres.DataSource);
    private readonly RunLedger _ledger = new(postgres.DataSource);

    [Fact]
    public async Task Rows_of_a_month_without_a_partition_wait_in_the_default_one_and_move_into_their_month_when_it_is_made()
    {
        var ids = await _series.RegisterAsync([new("partition/backfill", 3600)], CancellationToken.None);
        var day = new DateOnly(2019, 3, 14);
        await _series.WriteObservationsAsync([new DayRow(ids["partition/backfill"], day, Enumerable.Repeat(1f, 24).ToArray())], CancellationToken.None);
        string before = await PartitionOfAsync(ids["partition/backfill"], day);

        var report = await _partitions.MaintainAsync(new DateOnly(2019, 3, 20), new RetentionOptions { ObservationDays = 3650, AnomalyDays = 3650, RunSeriesDays = 3650 },
            CancellationToken.None);
        string after = await PartitionOfAsync(ids["partition/backfill"], day);

        Assert.Equal("observation_day_default", before);
        Assert.Equal("observation_day_201903", after);
        // February to June 2019 for each of the three tables.
        Assert.Equal(15, report.Created);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        Assert.Equal(24, await connection.ExecuteScalarAsync<int>(
            "select length(points) / 4 from observation_day where series_id = @id and day = @day", new { id = ids["partition/backfill"], day }));
    }

    [Fact]
    public async Task A_scored_day_is_written_to_its_months_partitions_and_retention_drops_whole_months_past_it()
    {
        var ids = await _series.RegisterAsync([new("partition/scored", 3600)], CancellationToken.None);
        int id = ids["partition/scored"];
        var old = new DateOnly(2018, 1, 10);
        var recent = new DateOnly(2018, 6, 10);
        await _partitions.MaintainAsync(old, new RetentionOptions { ObservationDays = 3650, AnomalyDays = 3650, RunSeriesDays = 3650, MonthsAhead = 6 }, CancellationToken.None);
        foreach (var day in new[] { old, recent })
        {
            await _series.WriteObservationsAsync([new DayRow(id, day, Enumerable.Repeat(2f, 24).ToArray())], CancellationToken.None);
            var run = await _ledger.StartAsync(RunKind.Nightly, day, "test", null, 1, CancellationToken.None);
            var ts = day.ToDateTime(new TimeOnly(5, 0), DateTimeKind.Utc);
            await _ledger.CommitBatchAsync(run.Run.RunId, day, [new SeriesOutcome(id, SeriesStatus.Scored, null, 24)],
                [new AnomalyRow(id, new DateTimeOffset(ts), 9f, 2f, 1f, 3f, 0.9f)], CancellationToken.None);
        }
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        Assert.Equal("run_series_201801", await connection.ExecuteScalarAsync<string>(
            "select tableoid::regclass::text from run_series where series_id = @id and as_of = @old", new { id, old }));
        Assert.Equal("anomaly_201806", await connection.ExecuteScalarAsync<string>(
            "select tableoid::regclass::text from anomaly where series_id = @id and as_of = @recent", new { id, recent }));

        // In July 2018, with 60 days of run outcomes and a year of the rest: January's run outcomes go, June's stay.
        var report = await _partitions.MaintainAsync(new DateOnly(2018, 7, 15),
            new RetentionOptions { ObservationDays = 365, AnomalyDays = 365, RunSeriesDays = 60, MonthsAhead = 1 }, CancellationToken.None);

        Assert.True(report.RunSeriesMonthsDropped >= 1, $"dropped {report.RunSeriesMonthsDropped}");
        Assert.Equal(0, report.ObservationMonthsDropped);
        Assert.Equal([recent], (await connection.QueryAsync<DateTime>("select as_of from run_series where series_id = @id", new { id })).Select(DateOnly.FromDateTime));
        Assert.Equal(2, await connection.ExecuteScalarAsync<int>("select count(*) from anomaly where series_id = @id", new { id }));
        Assert.Null(await connection.ExecuteScalarAsync<string?>("select to_regclass('run_series_201801')::text"));
        Assert.Equal("run_series_201805", await connection.ExecuteScalarAsync<string?>("select to_regclass('run_series_201805')::text"));
    }

    [Fact]
    public async Task Retention_that_drops_a_days_flags_drops_the_dashboards_summary_of_that_day_and_keeps_the_others()
    {
        var ids = await _series.RegisterAsync([new("partition/summary", 3600)], CancellationToken.None);
        int id = ids["partition/summary"];
        var old = new DateOnly(2021, 2, 10);
        var recent = new DateOnly(2021, 8, 10);
        await _partitions.MaintainAsync(old, new RetentionOptions { ObservationDays = 3650, AnomalyDays = 3650, RunSeriesDays = 3650, MonthsAhead = 7 }, CancellationToken.None);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("update series set tags = '{\"team\": \"retention\"}' where series_id = @id", new { id });
        var dashboard = new DashboardQueries(postgres.DataSource);
        foreach (var day in new[] { old, recent })
        {
            var run = await _ledger.StartAsync(RunKind.Nightly, day, "test", null, 1, CancellationToken.None);
            await _ledger.CommitBatchAsync(run.Run.RunId, day, [new SeriesOutcome(id, SeriesStatus.Scored, null, 24)],
                [new AnomalyRow(id, new DateTimeOffset(day.ToDateTime(new TimeOnly(5, 0), DateTimeKind.Utc)), 9f, 2f, 1f, 3f, 0.9f)], CancellationToken.None);
            await dashboard.DaySummaryAsync(day, CancellationToken.None);
        }
        async Task<DateOnly[]> SummarisedAsync(string table) => (await connection.QueryAsync<DateTime>(
            $"select as_of from {table} where as_of between '2021-01-01' and '2021-12-31' order by 1")).Select(DateOnly.FromDateTime).ToArray();
        Assert.Equal([old, recent], await SummarisedAsync("anomaly_tag_top"));

        // In late August 2021, with 100 days of flags: February's go, and the summary that copied them.
        await _partitions.MaintainAsync(new DateOnly(2021, 8, 20), new RetentionOptions { ObservationDays = 3650, AnomalyDays = 100, RunSeriesDays = 3650, MonthsAhead = 1 },
            CancellationToken.None);

        Assert.Equal([recent], (await connection.QueryAsync<DateTime>("select as_of from anomaly where series_id = @id", new { id })).Select(DateOnly.FromDateTime));
        Assert.Equal([recent], await SummarisedAsync("anomaly_tag_count_day"));
        Assert.Equal([recent], await SummarisedAsync("anomaly_tag_top"));
    }

    [Fact]
    public async Task A_write_whose_statement_began_before_its_month_was_made_waits_for_it_and_lands_in_the_new_partition()
    {
        var ids = await _series.RegisterAsync([new("partition/racing-statement", 3600)], CancellationToken.None);
        int id = ids["partition/racing-statement"];
        var day = new DateOnly(2023, 5, 10);
        await using var writer = await postgres.DataSource.OpenConnectionAsync();
        // The insert has opened observation_day (and read which partitions it has) a second before it routes its row.
        var write = writer.ExecuteAsync(
            "insert into observation_day (series_id, day, points) select @id, @day, observation_points_bytes(array[1, 2, 3]::real[]) from pg_sleep(1)",
            new { id, day });
        await WaitForAsync("wait_event = 'PgSleep'", writer.ProcessID);

        var report = await _partitions.MaintainAsync(new DateOnly(2023, 5, 20), LongRetention, CancellationToken.None);
        await write;

        Assert.True(report.Created >= 3, $"created {report.Created}");
        Assert.Equal("observation_day_202305", await PartitionOfAsync(id, day));
    }

    [Fact]
    public async Task Rows_written_to_the_default_partition_by_a_transaction_open_while_their_month_is_made_move_into_it_when_it_commits()
    {
        var ids = await _series.RegisterAsync([new("partition/racing-transaction", 3600)], CancellationToken.None);
        int id = ids["partition/racing-transaction"];
        DateOnly first = new(2024, 9, 3), second = new(2024, 9, 4);
        const string Insert = "insert into observation_day (series_id, day, points) values (@id, @day, observation_points_bytes(array[4, 5]::real[]))";
        await using var writer = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await writer.BeginTransactionAsync();
        await writer.ExecuteAsync(Insert, new { id, day = first }, transaction);

        var maintenance = _partitions.MaintainAsync(new DateOnly(2024, 10, 5), LongRetention, CancellationToken.None);
        await WaitForAsync("wait_event_type = 'Lock' and query like '%anomalymeta_month_partitions%'");
        await writer.ExecuteAsync(Insert, new { id, day = second }, transaction);
        await transaction.CommitAsync();
        await maintenance;

        Assert.Equal("observation_day_202409", await PartitionOfAsync(id, first));
        Assert.Equal("observation_day_202409", await PartitionOfAsync(id, second));
    }

    [Fact]
    public async Task Each_clustering_has_its_assignments_in_a_partition_that_is_dropped_once_it_is_older_than_the_live_one_and_no_kept_run_used_it()
    {
        var ids = (await _series.RegisterAsync([new("partition/assign-a", 3600), new("partition/assign-b", 3600)], CancellationToken.None)).Values.ToArray();
        var clusterings = new ClusteringStore(postgres.DataSource);
        // Four clusterings: unused and older than live, older but scored a kept day, live, newer (waiting for its models).
        var versions = new int[4];
        for (int i = 0; i < versions.Length; i++)
        {
            versions[i] = await clusterings.NextVersionAsync(CancellationToken.None);
            await clusterings.SaveWithAssignmentsAsync(new StoredClustering(versions[i], "kmeans", "{}", 2, null, [new(0, 24, null, 2, [0f])]),
                [.. ids.Select(id => new SeriesAssignment(id, 0, 24, null, "periodic", [0f]))], CancellationToken.None);
        }
        await clusterings.MarkLiveAsync(versions[2], CancellationToken.None);
        var today = new DateOnly(2022, 6, 30);
        foreach (var (day, version) in new[] { (today.AddDays(-100), versions[0]), (today.AddDays(-10), versions[1]) })
        {
            var run = await _ledger.StartAsync(RunKind.Nightly, day, "test", null, 2, CancellationToken.None);
            await _ledger.RecordModelsAsync(run.Run.RunId, version, [], CancellationToken.None);
        }
        string[] PartitionsOf(params int[] of) => [.. of.Select(v => $"series_assignment_{v}")];
        // Only this test's clusterings: the class's database is shared (the other test drops what it made).
        async Task<string[]> OwnPartitionsAsync() => [.. (await AssignmentPartitionsAsync()).Intersect(PartitionsOf(versions))];
        Assert.Equal(PartitionsOf(versions), await OwnPartitionsAsync());

        // Run outcomes are kept 60 days: the clustering only a 100-day-old run used goes, the one of a 10-day-old run stays.
        var retention = new RetentionOptions { ObservationDays = 3650, AnomalyDays = 3650, RunSeriesDays = 60 };
        var report = await _partitions.MaintainAsync(today, retention, CancellationToken.None);
        var again = await _partitions.MaintainAsync(today, retention, CancellationToken.None);

        Assert.Equal(1, report.AssignmentClusteringsDropped);
        Assert.Equal(0, again.AssignmentClusteringsDropped);
        Assert.Equal(PartitionsOf(versions[1], versions[2], versions[3]), await OwnPartitionsAsync());
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        var assigned = new List<int>();
        foreach (int v in versions)
        {
            assigned.Add(await connection.ExecuteScalarAsync<int>("select count(*)::int from series_assignment where cluster_version = @v", new { v }));
        }
        Assert.Equal([0, 2, 2, 2], assigned);
        // The clustering itself and the series' current cluster stay.
        Assert.Equal(4, await connection.ExecuteScalarAsync<int>("select count(*)::int from clustering where cluster_version = any(@versions)", new { versions }));
        Assert.Equal(2, await connection.ExecuteScalarAsync<int>(
            "select count(*)::int from series where series_id = any(@ids) and cluster_version = @newest", new { ids, newest = versions[3] }));
    }

    [Fact]
    public async Task Making_the_partition_of_a_clustering_being_saved_does_not_hold_back_readers_nor_writers_of_other_clusterings()
    {
        var id = (await _series.RegisterAsync([new("partition/assign-lock", 3600)], CancellationToken.None)).Values.Single();
        var clusterings = new ClusteringStore(postgres.DataSource);
        int saved = await clusterings.NextVersionAsync(CancellationToken.None);
        await clusterings.SaveWithAssignmentsAsync(new StoredClustering(saved, "kmeans", "{}", 1, null, [new(0, 24, null, 1, [0f]), new(1, 168, null, 0, [1f])]),
            [new(id, 0, 24, null, "periodic", [0f])], CancellationToken.None);
        int saving = await clusterings.NextVersionAsync(CancellationToken.None);
        await using var other = await postgres.DataSource.OpenConnectionAsync();
        try
        {
            await using var saver = await postgres.DataSource.OpenConnectionAsync();
            await using var transaction = await saver.BeginTransactionAsync();
            Assert.True(await saver.ExecuteScalarAsync<bool>("select anomalymeta_assignment_partition(@saving)", new { saving }, transaction));

            // While the save's transaction is open, with its lock on series_assignment: another clustering's assignments
            // are written and read (a statement that waited for the lock would hit the timeout).
            await other.ExecuteAsync("set statement_timeout = '3s'");
            var written = _series.UpdateAssignmentsAsync(saved, [new(id, 1, 168, null, "periodic", [1f])], CancellationToken.None);
            Assert.Equal(1, await written.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(1, await other.ExecuteScalarAsync<int>(
                "select cluster_id from series_assignment where cluster_version = @saved and series_id = @id", new { saved, id }));
            await transaction.RollbackAsync();

            // The partition goes with the save that made it.
            Assert.DoesNotContain($"series_assignment_{saving}", await AssignmentPartitionsAsync());
            Assert.Contains($"series_assignment_{saved}", await AssignmentPartitionsAsync());
        }
        finally
        {
            // The retention test counts what a maintenance pass drops in this class's database.
            await other.ExecuteAsync("reset statement_timeout");
            await other.ExecuteAsync($"drop table if exists series_assignment_{saved}");
        }
    }

    private async Task<string[]> AssignmentPartitionsAsync()
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<string>(
            """
            select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
            where i.inhparent = 'series_assignment'::regclass
            order by substring(c.relname from '[0-9]+$')::int
            """)).ToArray();
    }

    private static RetentionOptions LongRetention => new() { ObservationDays = 3650, AnomalyDays = 3650, RunSeriesDays = 3650 };

    /// <summary>Polls pg_stat_activity until a backend of this database (that one, when given) meets the condition.</summary>
    private async Task WaitForAsync(string condition, int? pid = null)
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(20))
        {
            if (await connection.ExecuteScalarAsync<bool>(
                $"select exists (select from pg_stat_activity where ({condition}) and datname = current_database() and (@pid::int is null or pid = @pid) and pid <> pg_backend_pid())", new { pid }))
            {
                return;
            }
        }
        throw new TimeoutException($"No backend met {condition} within 30 s.");
    }

    private async Task<string> PartitionOfAsync(int seriesId, DateOnly day)
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<string>(
            "select tableoid::regclass::text from observation_day where series_id = @seriesId and day = @day", new { seriesId, day }) ?? "";
    }
}
