using AnomalyMeta.Core.Series;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Storage.Tests.Infrastructure;
using AnomalyMeta.Testing;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage.Tests;

[Collection(PostgresTests.Name)]
public sealed class RunLedgerTests(PostgresFixture postgres)
{
    private readonly RunLedger _ledger = new(postgres.DataSource);
    private readonly SeriesRepository _series = new(postgres.DataSource);

    [Fact]
    public async Task There_is_one_nightly_run_per_date_and_a_second_start_resumes_or_reports_it()
    {
        var asOf = new DateOnly(2026, 6, 1);

        var first = await _ledger.StartAsync(RunKind.Nightly, asOf, "scheduler", null, 10, CancellationToken.None);
        var whileRunning = await _ledger.StartAsync(RunKind.Nightly, asOf, "scheduler", null, 10, CancellationToken.None);
        await _ledger.FinishAsync(first.Run.RunId, RunStatus.Failed, "database down", CancellationToken.None);
        var failed = await _ledger.GetAsync(first.Run.RunId, CancellationToken.None);
        var afterFailure = await _ledger.StartAsync(RunKind.Nightly, asOf, "alice", "retry", 12, CancellationToken.None);
        await _ledger.FinishAsync(first.Run.RunId, RunStatus.Succeeded, null, CancellationToken.None);
        var afterSuccess = await _ledger.StartAsync(RunKind.Nightly, asOf, "scheduler", null, 12, CancellationToken.None);

        Assert.Equal(RunStartOutcome.Started, first.Outcome);
        Assert.Equal((RunKind.Nightly, RunStatus.Running, asOf), (first.Run.Kind, first.Run.Status, first.Run.AsOf));
        Assert.Equal((RunStartOutcome.Resumed, first.Run.RunId), (whileRunning.Outcome, whileRunning.Run.RunId));
        Assert.NotNull(failed);
        Assert.Equal((RunStatus.Failed, "database down"), (failed.Status, failed.Error));
        Assert.NotNull(failed.FinishedAt);
        Assert.NotNull(failed.ElapsedMs);
        Assert.Equal((RunStartOutcome.Resumed, first.Run.RunId, RunStatus.Running), (afterFailure.Outcome, afterFailure.Run.RunId, afterFailure.Run.Status));
        Assert.Equal((null, null, 12), (afterFailure.Run.Error, afterFailure.Run.FinishedAt, afterFailure.Run.SeriesTotal));
        Assert.Equal((RunStartOutcome.AlreadySucceeded, first.Run.RunId, RunStatus.Succeeded), (afterSuccess.Outcome, afterSuccess.Run.RunId, afterSuccess.Run.Status));
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "select count(*) from run where kind = 'nightly' and as_of = @day", new { day = asOf.ToDateTime(TimeOnly.MinValue) }));
    }

    [Fact]
    public async Task Every_rescore_is_a_new_run_that_says_who_asked_and_why()
    {
        var asOf = new DateOnly(2026, 6, 2);

        var first = await _ledger.StartAsync(RunKind.Rescore, asOf, "bob", "model v3", 5, CancellationToken.None);
        var second = await _ledger.StartAsync(RunKind.Rescore, asOf, "bob", "model v4", 5, CancellationToken.None);

        Assert.Equal(RunStartOutcome.Started, first.Outcome);
        Assert.Equal(RunStartOutcome.Started, second.Outcome);
        Assert.NotEqual(first.Run.RunId, second.Run.RunId);
        Assert.Equal(("bob", "model v4", RunKind.Rescore), (second.Run.TriggeredBy, second.Run.Reason, second.Run.Kind));
    }

    [Fact]
    public async Task Committing_a_batch_twice_leaves_the_same_anomalies_and_counters()
    {
        var asOf = new DateOnly(2026, 6, 3);
        var ids = await RegisterAsync("commit-twice", 3);
        var run = (await _ledger.StartAsync(RunKind.Nightly, asOf, "scheduler", null, 3, CancellationToken.None)).Run;
        var (outcomes, anomalies) = Batch(asOf, ids);

        await _ledger.CommitBatchAsync(run.RunId, asOf, outcomes, anomalies, CancellationToken.None);
        var once = await SnapshotAsync(run.RunId, asOf, ids);
        await _ledger.CommitBatchAsync(run.RunId, asOf, outcomes, anomalies, CancellationToken.None);
        var twice = await SnapshotAsync(run.RunId, asOf, ids);

        Assert.Equal(3, once.Anomalies.Count);
        Assert.Equal(once.Anomalies, twice.Anomalies);
        Assert.Equal(once.RunSeries, twice.RunSeries);
        Assert.Equal((2, 1, 3, 1), (once.Run.SeriesScored, once.Run.SeriesSkipped, once.Run.AnomaliesWritten, once.Run.BatchesDone));
        Assert.Equal((2, 1, 3, 2), (twice.Run.SeriesScored, twice.Run.SeriesSkipped, twice.Run.AnomaliesWritten, twice.Run.BatchesDone));
        Assert.Equal(ids.ToHashSet(), await _ledger.CompletedSeriesAsync(run.RunId, CancellationToken.None));

        // A rerun with different results replaces the series' flags and moves the counters by the difference.
        SeriesOutcome[] rescored = [new(ids[0], SeriesStatus.NoModel, "cluster 3 has no model"), outcomes[1], outcomes[2]];
        await _ledger.CommitBatchAsync(run.RunId, asOf, rescored, anomalies.Where(a => a.SeriesId != ids[0]).ToList(), CancellationToken.None);
        var changed = await SnapshotAsync(run.RunId, asOf, ids);
        Assert.Single(changed.Anomalies);
        Assert.Equal((1, 2, 1), (changed.Run.SeriesScored, changed.Run.SeriesSkipped, changed.Run.AnomaliesWritten));
    }

    [Fact]
    public async Task A_rescore_replaces_the_nightly_flags_of_its_series_instead_of_adding_to_them()
    {
        var asOf = new DateOnly(2026, 6, 4);
        var ids = await RegisterAsync("rescore", 3);
        var nightly = (await _ledger.StartAsync(RunKind.Nightly, asOf, "scheduler", null, 3, CancellationToken.None)).Run;
        var (outcomes, anomalies) = Batch(asOf, ids);
        await _ledger.CommitBatchAsync(nightly.RunId, asOf, outcomes, anomalies, CancellationToken.None);
        await _ledger.FinishAsync(nightly.RunId, RunStatus.Succeeded, null, CancellationToken.None);

        var rescore = (await _ledger.StartAsync(RunKind.Rescore, asOf, "carol", "new model", 3, CancellationToken.None)).Run;
        await _ledger.CommitBatchAsync(rescore.RunId, asOf, outcomes, anomalies, CancellationToken.None);

        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        var writers = (await connection.QueryAsync<long>(
            "select run_id from anomaly where series_id = any(@ids)", new { ids })).ToList();
        Assert.Equal(3, writers.Count);
        Assert.All(writers, runId => Assert.Equal(rescore.RunId, runId));
    }

    [Fact]
    public async Task A_batch_failing_mid_transaction_leaves_nothing_of_it_visible_and_counters_unchanged()
    {
        var asOf = new DateOnly(2026, 6, 5);
        var ids = await RegisterAsync("midway", 3);
        var run = (await _ledger.StartAsync(RunKind.Nightly, asOf, "scheduler", null, 4, CancellationToken.None)).Run;
        var (outcomes, anomalies) = Batch(asOf, ids);
        await _ledger.CommitBatchAsync(run.RunId, asOf, outcomes, anomalies, CancellationToken.None);
        var before = await SnapshotAsync(run.RunId, asOf, ids);

        // The unknown series passes every client-side check and is found only after the delete of the batch's
        // existing flags ran (db/0020 replaced the foreign keys by one probe at the end): the rollback must bring them back.
        const int Unknown = int.MaxValue - 11;
        var ts = asOf.ToDateTime(new TimeOnly(12, 0), DateTimeKind.Utc);
        SeriesOutcome[] failing = [.. outcomes, new(Unknown, SeriesStatus.Scored, null, 24)];
        AnomalyRow[] failingAnomalies = [.. anomalies.Select(a => a with { Score = 0.5f }), new(Unknown, ts, 1, 2, 0, 1, 0.9f)];
        var error = await Assert.ThrowsAsync<ArgumentException>(
            () => _ledger.CommitBatchAsync(run.RunId, asOf, failing, failingAnomalies, CancellationToken.None));
        var after = await SnapshotAsync(run.RunId, asOf, ids);

        Assert.Contains($"Run {run.RunId}: a batch names series that are not registered ({Unknown})", error.Message, StringComparison.Ordinal);
        Assert.Equal(before.Anomalies, after.Anomalies);
        Assert.Equal(before.RunSeries, after.RunSeries);
        Assert.Equal(before.Run, after.Run);
    }

    [Fact]
    public async Task A_score_outside_zero_to_one_is_refused_by_name_and_nothing_of_the_batch_is_written()
    {
        var asOf = new DateOnly(2026, 6, 6);
        var ids = await RegisterAsync("score", 3);
        var run = (await _ledger.StartAsync(RunKind.Nightly, asOf, "scheduler", null, 3, CancellationToken.None)).Run;
        var (outcomes, anomalies) = Batch(asOf, ids);
        anomalies[^1] = anomalies[^1] with { Score = 1.5f };

        var error = await Assert.ThrowsAsync<ArgumentException>(
            () => _ledger.CommitBatchAsync(run.RunId, asOf, outcomes, anomalies, CancellationToken.None));
        var after = await SnapshotAsync(run.RunId, asOf, ids);

        Assert.Contains($"series {anomalies[^1].SeriesId}", error.Message, StringComparison.Ordinal);
        Assert.Contains("1.5", error.Message, StringComparison.Ordinal);
        Assert.Empty(after.Anomalies);
        Assert.Empty(after.RunSeries);
        Assert.Equal((0, 0, 0, 0), (after.Run.SeriesScored, after.Run.SeriesSkipped, after.Run.AnomaliesWritten, after.Run.BatchesDone));
    }

    [Fact]
    public async Task The_score_check_constraint_holds_even_without_the_client_side_check()
    {
        // The schema is the last line of defence: a score above 1 written by any other path is rejected.
        var asOf = new DateOnly(2026, 6, 7);
        var ids = await RegisterAsync("constraint", 1);
        var run = (await _ledger.StartAsync(RunKind.Nightly, asOf, "scheduler", null, 1, CancellationToken.None)).Run;
        await using var connection = await postgres.DataSource.OpenConnectionAsync();

        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(
            "insert into anomaly (as_of, series_id, ts, run_id, value, forecast, lower_band, upper_band, score) values (@day, @id, now(), @runId, 1, 1, 0, 2, 1.5)",
            new { day = asOf.ToDateTime(TimeOnly.MinValue), id = ids[0], runId = run.RunId }));

        Assert.Equal(PostgresErrorCodes.CheckViolation, error.SqlState);
    }

    [Fact]
    public async Task A_finished_run_takes_no_more_batches()
    {
        var asOf = new DateOnly(2026, 6, 8);
        var ids = await RegisterAsync("finished", 3);
        var run = (await _ledger.StartAsync(RunKind.Rescore, asOf, "dave", null, 3, CancellationToken.None)).Run;
        await _ledger.FinishAsync(run.RunId, RunStatus.Succeeded, null, CancellationToken.None);
        var (outcomes, anomalies) = Batch(asOf, ids);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => _ledger.CommitBatchAsync(run.RunId, asOf, outcomes, anomalies, CancellationToken.None));

        Assert.Contains("succeeded", error.Message, StringComparison.Ordinal);
        Assert.Empty(await _ledger.CompletedSeriesAsync(run.RunId, CancellationToken.None));
    }

    [Fact]
    public async Task Deleting_a_series_or_a_run_deletes_its_outcomes_and_flags_and_nobody_elses()
    {
        // db/0020 replaced the ledger's foreign keys by triggers that keep their cascades.
        var asOf = new DateOnly(2026, 6, 8);
        var ids = await RegisterAsync("cascade", 3);
        var first = (await _ledger.StartAsync(RunKind.Rescore, asOf, "dave", "first", 3, CancellationToken.None)).Run;
        var (outcomes, anomalies) = Batch(asOf, ids);
        await _ledger.CommitBatchAsync(first.RunId, asOf, outcomes, anomalies, CancellationToken.None);
        var second = (await _ledger.StartAsync(RunKind.Rescore, asOf.AddDays(1), "dave", "second", 3, CancellationToken.None)).Run;
        var (nextOutcomes, nextAnomalies) = Batch(asOf.AddDays(1), ids);
        await _ledger.CommitBatchAsync(second.RunId, asOf.AddDays(1), nextOutcomes, nextAnomalies, CancellationToken.None);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        async Task<(long, int)[]> LeftAsync(string table) => (await connection.QueryAsync<(long, int)>(
            $"select distinct run_id, series_id from {table} where series_id = any(@ids) order by 1, 2", new { ids })).ToArray();

        // The dashboard's summary of the second day copies its flags' lines (db/0022).
        await connection.ExecuteAsync("update series set tags = '{\"team\": \"cascade\"}' where series_id = any(@ids)", new { ids });
        await new DashboardQueries(postgres.DataSource).DaySummaryAsync(asOf.AddDays(1), CancellationToken.None);
        Assert.Equal([(second.RunId, ids[0]), (second.RunId, ids[1])], await LeftAsync("anomaly_tag_top"));

        await connection.ExecuteAsync("delete from series where series_id = @id", new { id = ids[0] });
        await connection.ExecuteAsync("delete from run where run_id = @id", new { id = first.RunId });

        Assert.Equal([(second.RunId, ids[1]), (second.RunId, ids[2])], await LeftAsync("run_series"));
        Assert.Equal([(second.RunId, ids[1])], await LeftAsync("anomaly"));
        Assert.Equal([(second.RunId, ids[1])], await LeftAsync("anomaly_tag_top"));
    }

    private async Task<int[]> RegisterAsync(string prefix, int count) =>
        (await _series.RegisterAsync(TestData.Series(prefix, count), CancellationToken.None)).Values.Order().ToArray();

    // Two scored series (two flags and one flag) and one too short to score.
    private static (SeriesOutcome[] Outcomes, AnomalyRow[] Anomalies) Batch(DateOnly asOf, int[] ids)
    {
        var noon = new DateTimeOffset(asOf.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero);
        return (
            [new(ids[0], SeriesStatus.Scored, null, 24), new(ids[1], SeriesStatus.Scored, null, 24), new(ids[2], SeriesStatus.TooShort, "3 of 192 points observed")],
            [
                new(ids[0], noon, 180f, 100f, 90f, 110f, 0.99f),
                new(ids[0], noon.AddHours(1), 20f, 100f, 90f, 110f, 0.95f),
                // An offset other than UTC names the same instant.
                new(ids[1], noon.ToOffset(TimeSpan.FromHours(2)), 0f, 50f, 40f, 60f, 0.8f),
            ]);
    }

    private async Task<LedgerSnapshot> SnapshotAsync(long runId, DateOnly asOf, int[] ids)
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        var anomalies = (await connection.QueryAsync<(int, DateTime, float, float, long)>(
            "select series_id, ts, value, score, run_id from anomaly where as_of = @day and series_id = any(@ids) order by series_id, ts",
            new { day = asOf.ToDateTime(TimeOnly.MinValue), ids })).ToList();
        var runSeries = (await connection.QueryAsync<(int, string, string?, int, int)>(
            "select series_id, status, detail, points_scored, anomaly_count from run_series where run_id = @runId order by series_id",
            new { runId })).ToList();
        var run = await _ledger.GetAsync(runId, CancellationToken.None);
        Assert.NotNull(run);
        return new LedgerSnapshot(anomalies, runSeries, run);
    }

    private sealed record LedgerSnapshot(
        List<(int SeriesId, DateTime Ts, float Value, float Score, long RunId)> Anomalies,
        List<(int SeriesId, string Status, string? Detail, int PointsScored, int AnomalyCount)> RunSeries,
        ScoringRunRecord Run);
}
