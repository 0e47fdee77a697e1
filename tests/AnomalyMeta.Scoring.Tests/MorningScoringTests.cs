using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Benchmarks.Evaluation;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Storage.Records;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnomalyMeta.Scoring.Tests;

public sealed class MorningScoringTests(PreparedFleetFixture fixture) : IClassFixture<PreparedFleetFixture>
{
    private static readonly DateOnly ScoringDay = SmallFleet.Options.ScoringDay;

    [Fact]
    public async Task A_nightly_run_scores_every_series_and_finds_the_injected_anomalies()
    {
        var fleet = fixture.Fleet;

        var summary = await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, ScoringDay, "test"), CancellationToken.None);

        Assert.False(summary.AlreadyDone);
        // Other tests of the class add a few series of their own: at least the fleet is scored.
        Assert.True(summary.SeriesScored >= SmallFleet.Options.SeriesCount * 0.95, $"only {summary.SeriesScored} scored");
        var flagged = await fleet.Queries.FlaggedOnAsync(ScoringDay, CancellationToken.None);
        var metrics = SyntheticEvaluation.Evaluate(fleet.Generator, flagged).Overall;
        // Random flags at the same rate would score about 0.05; a working pipeline finds most injected anomalies
        // (delay protocol: an anomaly is found when flagged within its first points).
        Assert.True(metrics.F1 > 0.5, $"precision {metrics.Precision:F3}, recall {metrics.Recall:F3}, F1 {metrics.F1:F3}");
    }

    [Fact]
    public async Task A_second_nightly_run_for_the_same_day_does_nothing_and_a_rescore_replaces_the_flags()
    {
        var fleet = fixture.Fleet;
        var day = ScoringDay.AddDays(-1);
        var first = await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, day, "test"), CancellationToken.None);
        var flaggedFirst = await fleet.Queries.FlaggedOnAsync(day, CancellationToken.None);

        var again = await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, day, "test"), CancellationToken.None);
        var rescore = await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Rescore, day, "on-call", "checking a feed fix"), CancellationToken.None);
        var flaggedAfter = await fleet.Queries.FlaggedOnAsync(day, CancellationToken.None);

        Assert.True(again.AlreadyDone);
        Assert.Equal(first.RunId, again.RunId);
        Assert.NotEqual(first.RunId, rescore.RunId);
        Assert.Equal(flaggedFirst.Count, flaggedAfter.Count);
        Assert.Equal(flaggedFirst.Select(f => (f.SeriesKey, f.Ts)), flaggedAfter.Select(f => (f.SeriesKey, f.Ts)));
        var runs = await fleet.Queries.RecentRunsAsync(10, CancellationToken.None);
        var rescoreLine = Assert.Single(runs, r => r.RunId == rescore.RunId);
        Assert.Equal("rescore", rescoreLine.Kind);
        Assert.Equal("checking a feed fix", rescoreLine.Reason);
        Assert.Equal("succeeded", rescoreLine.Status);
        string someSeries = flaggedAfter.Count > 0 ? flaggedAfter[0].SeriesKey : fleet.Generator.Generate(0).Key;
        var history = await fleet.Queries.SeriesHistoryAsync(someSeries, 10, CancellationToken.None);
        var ofThisDay = history.Where(h => h.AsOf == day).ToList();
        Assert.Equal([rescore.RunId, first.RunId], ofThisDay.Select(h => h.RunId));
        Assert.Equal(["rescore", "nightly"], ofThisDay.Select(h => h.Kind));
        Assert.All(ofThisDay, h => Assert.Equal("scored", h.Status));
        Assert.Empty(await fleet.Queries.SeriesHistoryAsync("no-such-series", 10, CancellationToken.None));
    }

    [Fact]
    public async Task Series_that_cannot_be_scored_get_a_status_with_a_reason_while_the_rest_are_scored()
    {
        var fleet = fixture.Fleet;
        var options = SmallFleet.Options;
        var day = ScoringDay.AddDays(-2);
        string prefix = "bad-" + Guid.NewGuid().ToString("N")[..6];
        var ids = await fleet.Series.RegisterAsync(
            [new($"{prefix}/constant", 3600), new($"{prefix}/silent-today", 3600), new($"{prefix}/sparse", 3600)],
            CancellationToken.None);
        var normal = fleet.Generator.Generate(0).Values;
        var rows = new List<DayRow>();
        for (var d = options.FirstDay; d <= day; d = d.AddDays(1))
        {
            int offset = (d.DayNumber - options.FirstDay.DayNumber) * options.PointsPerDay;
            rows.Add(new DayRow(ids[$"{prefix}/constant"], d, Enumerable.Repeat(5f, options.PointsPerDay).ToArray()));
            if (d < day)
            {
                rows.Add(new DayRow(ids[$"{prefix}/silent-today"], d, normal.AsSpan(offset, options.PointsPerDay).ToArray()));
            }
            if (d >= day.AddDays(-1))
            {
                // New yesterday evening: 4 points before the scoring day, fewer than the 6 any season needs.
                var points = normal.AsSpan(offset, options.PointsPerDay).ToArray();
                if (d < day)
                {
                    points.AsSpan(0, options.PointsPerDay - 4).Fill(float.NaN);
                }
                rows.Add(new DayRow(ids[$"{prefix}/sparse"], d, points));
            }
        }
        await fleet.Series.WriteObservationsAsync(rows, CancellationToken.None);
        await new ClusteringStep(fleet.Series, fleet.Clusterings, NullLogger<ClusteringStep>.Instance)
            .AssignNewAsync(day, options.HistoryDays, CancellationToken.None);
        // Registered after training, at a step no model was trained for: not even a generic model can score it.
        var unknownStep = await fleet.Series.RegisterAsync([new($"{prefix}/unknown-step", 900)], CancellationToken.None);
        // With data on the day: a series without any is no_data before anything else is asked of it.
        await fleet.Series.WriteObservationsAsync([new DayRow(unknownStep[$"{prefix}/unknown-step"], day, Enumerable.Repeat(1f, 96).ToArray())],
            CancellationToken.None);

        var summary = await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Rescore, day, "test", "bad series"), CancellationToken.None);
        var lines = (await fleet.Queries.SeriesOfRunAsync(summary.RunId, CancellationToken.None)).ToDictionary(l => l.SeriesKey);

        // A flat series is scored: any move away from its value is news (its scale has a floor, not a status).
        Assert.Equal("scored", lines[$"{prefix}/constant"].Status);
        Assert.Equal(0, lines[$"{prefix}/constant"].AnomalyCount);
        Assert.Equal("no_data", lines[$"{prefix}/silent-today"].Status);
        Assert.Equal("too_short", lines[$"{prefix}/sparse"].Status);
        Assert.Equal("no_model", lines[$"{prefix}/unknown-step"].Status);
        Assert.All(lines.Values.Where(l => l.Status != "scored"), l => Assert.False(string.IsNullOrWhiteSpace(l.Detail)));
        Assert.True(lines.Values.Count(l => l.Status == "scored") >= options.SeriesCount * 0.95);
    }

    [Fact]
    public async Task A_second_runner_for_a_date_being_scored_leaves_at_once_and_writes_nothing()
    {
        var fleet = fixture.Fleet;
        var day = ScoringDay.AddDays(-3);

        InvalidOperationException refused;
        await using (var owner = await fleet.Ledger.TryLockAsync(day, CancellationToken.None))
        {
            Assert.NotNull(owner);
            Assert.Null(await fleet.Ledger.TryLockAsync(day, CancellationToken.None));
            refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
                fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, day, "second runner"), CancellationToken.None));
            var runs = await fleet.Queries.RecentRunsAsync(50, CancellationToken.None);
            Assert.DoesNotContain(runs, r => r.AsOf == day);
        }
        // The owner is gone: the next runner takes the date.
        var summary = await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, day, "after the owner"), CancellationToken.None);

        Assert.Contains("Another process is scoring", refused.Message, StringComparison.Ordinal);
        Assert.False(summary.AlreadyDone);
        Assert.True(summary.SeriesScored > 0);
    }

    [Fact]
    public async Task A_nightly_run_scored_before_a_series_data_arrived_scores_it_when_run_again()
    {
        var fleet = fixture.Fleet;
        var options = SmallFleet.Options;
        var day = ScoringDay.AddDays(-4);
        string key = "late-feed-" + Guid.NewGuid().ToString("N")[..6];
        var id = (await fleet.Series.RegisterAsync([new(key, 3600)], CancellationToken.None))[key];
        var values = fleet.Generator.Generate(1).Values;
        var history = new List<DayRow>();
        for (var d = options.FirstDay; d < day; d = d.AddDays(1))
        {
            int offset = (d.DayNumber - options.FirstDay.DayNumber) * options.PointsPerDay;
            history.Add(new DayRow(id, d, values.AsSpan(offset, options.PointsPerDay).ToArray()));
        }
        await fleet.Series.WriteObservationsAsync(history, CancellationToken.None);

        var early = await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, day, "cron"), CancellationToken.None);
        var earlyLine = (await fleet.Queries.SeriesOfRunAsync(early.RunId, CancellationToken.None)).Single(l => l.SeriesKey == key);
        int dayOffset = (day.DayNumber - options.FirstDay.DayNumber) * options.PointsPerDay;
        await fleet.Series.WriteObservationsAsync([new DayRow(id, day, values.AsSpan(dayOffset, options.PointsPerDay).ToArray())], CancellationToken.None);
        var late = await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, day, "cron"), CancellationToken.None);
        var lines = await fleet.Queries.SeriesOfRunAsync(late.RunId, CancellationToken.None);
        var again = await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, day, "cron"), CancellationToken.None);

        Assert.Equal("no_data", earlyLine.Status);
        Assert.Equal(early.RunId, late.RunId);
        Assert.False(late.AlreadyDone);
        Assert.Equal("scored", lines.Single(l => l.SeriesKey == key).Status);
        Assert.Equal(early.SeriesScored + 1, late.SeriesScored);
        // The counters still equal the rows, and with nothing late left the run is done.
        Assert.Equal(lines.Count(l => l.Status == "scored"), late.SeriesScored);
        Assert.Equal(lines.Count(l => l.Status != "scored"), late.SeriesSkipped);
        Assert.True(again.AlreadyDone);
    }

    [Fact]
    public async Task A_run_left_running_by_a_dead_process_is_marked_failed_by_the_next_run_of_its_date()
    {
        var fleet = fixture.Fleet;
        var day = ScoringDay.AddDays(-5);
        // A rescore whose process died: its row says running, and nobody holds the date's lock.
        var orphan = await fleet.Ledger.StartAsync(RunKind.Rescore, day, "killed-service", "killed mid-run", 1, CancellationToken.None);

        await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, day, "cron"), CancellationToken.None);
        var runs = await fleet.Queries.RecentRunsAsync(100, CancellationToken.None);

        var marked = Assert.Single(runs, r => r.RunId == orphan.Run.RunId);
        Assert.Equal("failed", marked.Status);
        Assert.Contains("ended without finishing", marked.Error, StringComparison.Ordinal);
        Assert.Equal("succeeded", Assert.Single(runs, r => r.AsOf == day && r.Kind == "nightly").Status);
    }
}
