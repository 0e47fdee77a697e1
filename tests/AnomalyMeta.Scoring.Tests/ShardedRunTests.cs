using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Tests;

/// <summary>
/// A run split into shards, each scored by whichever instance takes it (here: named instances in one process, on
/// the real database and locks). The service's Quartz jobs call exactly these entry points.
/// </summary>
public sealed class ShardedRunTests(PreparedFleetFixture fixture) : IClassFixture<PreparedFleetFixture>
{
    private static readonly DateOnly ScoringDay = SmallFleet.Options.ScoringDay;

    [Fact]
    public async Task Shards_scored_by_two_instances_in_any_order_score_every_series_once_and_the_last_one_ends_the_run()
    {
        var fleet = fixture.Fleet;
        var day = ScoringDay.AddDays(-2);
        var scoring = fleet.Scoring();

        var plan = await scoring.StartShardedAsync(new ScoringRequest(RunKind.Nightly, day, "test"), 3, CancellationToken.None);
        var second = await scoring.ScoreShardAsync(plan.RunId, 2, "node-a", CancellationToken.None);
        var first = await scoring.ScoreShardAsync(plan.RunId, 0, "node-b", CancellationToken.None);
        var midway = await fleet.Ledger.GetAsync(plan.RunId, CancellationToken.None);
        var last = await scoring.ScoreShardAsync(plan.RunId, 1, "node-a", CancellationToken.None);

        Assert.Equal([0, 1, 2], plan.PendingShards);
        Assert.Equal([ShardOutcome.Scored, ShardOutcome.Scored, ShardOutcome.Scored], new[] { second, first, last });
        Assert.Equal(RunStatus.Running, midway!.Status);
        var run = (await fleet.Ledger.GetAsync(plan.RunId, CancellationToken.None))!;
        Assert.Equal(RunStatus.Succeeded, run.Status);
        int total = await fleet.Queries.SeriesCountAsync(CancellationToken.None);
        var lines = await fleet.Queries.SeriesOfRunAsync(plan.RunId, CancellationToken.None);
        Assert.Equal(total, lines.Count);
        Assert.Equal(total, run.SeriesScored + run.SeriesSkipped);
        var shards = await fleet.Ledger.Shards.ListAsync(plan.RunId, CancellationToken.None);
        Assert.Equal(["node-b", "node-a", "node-a"], shards.Select(s => Assert.Single(s.Instances)));
        Assert.Equal(total, shards.Sum(s => s.SeriesDone));
        Assert.All(shards, s => Assert.Equal("done", s.Status));
        // The whole-run path agrees that the date is done.
        Assert.True((await scoring.RunAsync(new ScoringRequest(RunKind.Nightly, day, "test"), CancellationToken.None)).AlreadyDone);
    }

    [Fact]
    public async Task A_repeated_or_recovered_shard_job_scores_nothing_twice()
    {
        var fleet = fixture.Fleet;
        var day = ScoringDay.AddDays(-3);
        var scoring = fleet.Scoring();
        var plan = await scoring.StartShardedAsync(new ScoringRequest(RunKind.Nightly, day, "test"), 2, CancellationToken.None);

        var first = await scoring.ScoreShardAsync(plan.RunId, 0, "node-a", CancellationToken.None);
        var before = await fleet.Ledger.GetAsync(plan.RunId, CancellationToken.None);
        var repeated = await scoring.ScoreShardAsync(plan.RunId, 0, "node-b", CancellationToken.None);
        var after = await fleet.Ledger.GetAsync(plan.RunId, CancellationToken.None);
        var other = await scoring.ScoreShardAsync(plan.RunId, 1, "node-b", CancellationToken.None);
        var afterTheRun = await scoring.ScoreShardAsync(plan.RunId, 1, "node-a", CancellationToken.None);

        Assert.Equal((ShardOutcome.Scored, ShardOutcome.AlreadyDone, ShardOutcome.Scored, ShardOutcome.RunNotRunning), (first, repeated, other, afterTheRun));
        Assert.Equal((before!.SeriesScored, before.SeriesSkipped, before.AnomaliesWritten), (after!.SeriesScored, after.SeriesSkipped, after.AnomaliesWritten));
        int total = await fleet.Queries.SeriesCountAsync(CancellationToken.None);
        var run = (await fleet.Ledger.GetAsync(plan.RunId, CancellationToken.None))!;
        Assert.Equal(total, run.SeriesScored + run.SeriesSkipped);
        Assert.Equal(total, (await fleet.Queries.SeriesOfRunAsync(plan.RunId, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task A_shard_another_instance_holds_is_left_to_it_and_a_whole_run_scorer_waits_for_running_shards()
    {
        var fleet = fixture.Fleet;
        var day = ScoringDay.AddDays(-4);
        var scoring = fleet.Scoring();
        var plan = await scoring.StartShardedAsync(new ScoringRequest(RunKind.Nightly, day, "test"), 2, CancellationToken.None);

        ShardOutcome held;
        await using (await fleet.Ledger.TryLockShardAsync(plan.RunId, 0, CancellationToken.None))
        {
            held = await scoring.ScoreShardAsync(plan.RunId, 0, "node-b", CancellationToken.None);
        }
        InvalidOperationException wholeRun;
        await using (await fleet.Ledger.TryLockSharedAsync(day, CancellationToken.None))
        {
            wholeRun = await Assert.ThrowsAsync<InvalidOperationException>(
                () => scoring.RunAsync(new ScoringRequest(RunKind.Nightly, day, "cli"), CancellationToken.None));
        }

        Assert.Equal(ShardOutcome.Busy, held);
        Assert.Contains("Another process is scoring", wholeRun.Message, StringComparison.Ordinal);
        Assert.Empty(await fleet.Queries.SeriesOfRunAsync(plan.RunId, CancellationToken.None));
        Assert.Equal(ShardOutcome.Scored, await scoring.ScoreShardAsync(plan.RunId, 0, "node-b", CancellationToken.None));
        Assert.Equal(ShardOutcome.Scored, await scoring.ScoreShardAsync(plan.RunId, 1, "node-b", CancellationToken.None));
        Assert.Equal(RunStatus.Succeeded, (await fleet.Ledger.GetAsync(plan.RunId, CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task A_shard_stopped_mid_way_is_taken_over_by_another_instance_and_every_series_is_scored_exactly_once()
    {
        var fleet = fixture.Fleet;
        var day = ScoringDay.AddDays(-5);
        // Small batches: many commits, so the shard can be stopped between two of them.
        var scoring = fleet.Scoring(new ScoringOptions { BatchSize = 8 });
        var plan = await scoring.StartShardedAsync(new ScoringRequest(RunKind.Nightly, day, "test"), 1, CancellationToken.None);

        using var stop = new CancellationTokenSource();
        var dying = scoring.ScoreShardAsync(plan.RunId, 0, "node-a", stop.Token);
        while (!dying.IsCompleted && (await fleet.Ledger.GetAsync(plan.RunId, CancellationToken.None))!.SeriesScored == 0)
        {
            await Task.Delay(2);
        }
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dying);
        var stopped = (await fleet.Ledger.GetAsync(plan.RunId, CancellationToken.None))!;
        var takenOver = await scoring.ScoreShardAsync(plan.RunId, 0, "node-b", CancellationToken.None);

        int total = await fleet.Queries.SeriesCountAsync(CancellationToken.None);
        Assert.InRange(stopped.SeriesScored + stopped.SeriesSkipped, 1, total - 1);
        Assert.Equal(ShardOutcome.Scored, takenOver);
        var run = (await fleet.Ledger.GetAsync(plan.RunId, CancellationToken.None))!;
        Assert.Equal(RunStatus.Succeeded, run.Status);
        Assert.Equal(total, run.SeriesScored + run.SeriesSkipped);
        Assert.Equal(total, (await fleet.Queries.SeriesOfRunAsync(plan.RunId, CancellationToken.None)).Count);
        var shard = Assert.Single(await fleet.Ledger.Shards.ListAsync(plan.RunId, CancellationToken.None));
        Assert.Equal(["node-a", "node-b"], shard.Instances);
        Assert.Equal(total - (stopped.SeriesScored + stopped.SeriesSkipped), shard.SeriesDone);
    }
}
