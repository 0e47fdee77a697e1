using System.Diagnostics;
using System.Runtime.InteropServices;
using AnomalyMeta.Core.Series;
using AnomalyMeta.Core.Work;
using AnomalyMeta.Learning;
using AnomalyMeta.Scoring.Batches;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Microsoft.Extensions.Logging;

namespace AnomalyMeta.Scoring.Runs;

/// <summary>
/// One scoring run end to end: read a batch of series → adapt each from its cluster's meta-learner → score the day →
/// commit the batch's flags and statuses in one transaction. A nightly run is idempotent by date: rerunning a
/// succeeded date does nothing, rerunning a failed one resumes after its last committed batch.
/// </summary>
public sealed class MorningScoring(
    SeriesRepository series,
    AnomalyQueries queries,
    ClusteringStore clusterings,
    ModelStore models,
    RunLedger ledger,
    ScoringOptions options,
    ILogger<MorningScoring> logger)
{
    public Task<ScoringSummary> RunAsync(ScoringRequest request, CancellationToken cancellationToken) => RunAsync(request, null, cancellationToken);

    /// <summary>A run that reports the series committed of the run's total to <paramref name="progress"/> after each batch.</summary>
    public async Task<ScoringSummary> RunAsync(ScoringRequest request, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        using var activity = ScoringTelemetry.Source.StartActivity("scoring run");
        activity?.SetTag("anomalymeta.as_of", request.AsOf.ToString("O"));
        var clock = Stopwatch.StartNew();

        // One owner per date: a second process asked for the same day (a cron and an engineer, two service replicas)
        // leaves at once instead of scoring the live run again and failing it at the end.
        await using var runLock = await ledger.TryLockAsync(request.AsOf, cancellationToken);
        if (runLock is null)
        {
            string busy = $"Another process is scoring {request.AsOf:yyyy-MM-dd} right now (it holds the date's run lock): nothing done. "
                + "Run again once it has finished; if it died, its lock is already free.";
            if (request.QueuedRunId is long queued)
            {
                await ledger.FinishAsync(queued, RunStatus.Failed, busy, CancellationToken.None);
            }
            throw new InvalidOperationException(busy);
        }
        int[]? scoped = await ScopeOfAsync(request, cancellationToken);
        int seriesTotal = scoped?.Length ?? await queries.SeriesCountAsync(cancellationToken);
        var start = request.QueuedRunId is long queuedRunId
            ? await ledger.StartQueuedAsync(queuedRunId, seriesTotal, cancellationToken)
            : await ledger.StartAsync(request.Kind, request.AsOf, request.TriggeredBy, request.Reason, seriesTotal, request.Scope, cancellationToken);
        long runId = start.Run.RunId;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RunId"] = runId });
        foreach (long orphan in await ledger.FailOrphansAsync(request.AsOf, runId, cancellationToken))
        {
            logger.OrphanFailed(orphan, request.AsOf);
        }
        if (start.Outcome == RunStartOutcome.AlreadySucceeded)
        {
            logger.RunAlreadyDone(runId, request.AsOf);
            return Summarise(start.Run, alreadyDone: true, clock.Elapsed);
        }

        try
        {
            // Inside the try: a run that cannot get its models (none trained yet) still ends in the ledger, failed,
            // with the reason.
            var scoringModels = await LoadModelsAsync(cancellationToken);
            await ledger.RecordModelsAsync(runId, scoringModels.ClusteringVersion, scoringModels.ModelIds, cancellationToken);
            logger.RunStarted(runId, request.Kind, request.AsOf, seriesTotal, scoringModels.Count);
            var done = start.Outcome == RunStartOutcome.Resumed
                ? await ledger.CompletedSeriesAsync(runId, cancellationToken)
                : new HashSet<int>();
            var scorer = new BatchScorer(options.Detection);
            var (read, write, _) = await ScoreAllAsync(request, runId, seriesTotal, scoringModels, done, scorer, 0, int.MaxValue, scoped, progress, cancellationToken);
            // A night scored before its feed landed must not pass for a quiet night: the run says so in the ledger
            // and the log (and `score` in its exit code); rerunning the date once the data is in scores those series.
            int noData = await ledger.CountAsync(runId, SeriesStatus.NoData, cancellationToken);
            string? warning = noData * 2 > seriesTotal && seriesTotal > 0
                ? $"most series had no data for {request.AsOf:yyyy-MM-dd}: {noData} of {seriesTotal} (is the day's feed late? run the date again once it is in)"
                : null;
            await ledger.FinishAsync(runId, RunStatus.Succeeded, warning, cancellationToken);
            var finished = await ledger.GetAsync(runId, cancellationToken)
                ?? throw new InvalidOperationException($"Run {runId} vanished from the ledger.");
            if (warning is not null)
            {
                logger.MostlyNoData(runId, noData, seriesTotal);
            }
            logger.RunSucceeded(runId, finished.SeriesScored, finished.SeriesSkipped, finished.AnomaliesWritten, clock.ElapsedMilliseconds);
            ScoringTelemetry.RunFinished(request.Kind, RunStatus.Succeeded, clock.Elapsed);
            return Summarise(finished, alreadyDone: false, clock.Elapsed) with
            {
                SeriesNoData = noData,
                SeriesTotal = seriesTotal,
                Phases = new ScoringPhases(read, scorer.EncodeTime, scorer.AdaptTime, scorer.ScoreTime, write),
            };
        }
        catch (Exception exception)
        {
            logger.RunFailed(exception, runId);
            ScoringTelemetry.RunFinished(request.Kind, RunStatus.Failed, clock.Elapsed);
            // The ledger must say the run failed even when the run was cancelled: record it without the token.
            await ledger.FinishAsync(runId, RunStatus.Failed, exception.Message, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Starts (or resumes) a run split into <paramref name="shardCount"/> shards of series_id ranges, each scored by
    /// <see cref="ScoreShardAsync"/> on whichever instance takes it. Checks the models first, so a run without any
    /// fails here with the reason. Returns the run and the shards still to score (none when the date is already done).
    /// Holds the date's lock shared while it plans: a whole-run scorer of the same date makes it leave.
    /// </summary>
    public async Task<ShardedRun> StartShardedAsync(ScoringRequest request, int shardCount, CancellationToken cancellationToken)
    {
        await using var dateLock = await ledger.TryLockSharedAsync(request.AsOf, cancellationToken);
        if (dateLock is null)
        {
            string busy = $"Another process is scoring {request.AsOf:yyyy-MM-dd} as a whole right now (it holds the date's run lock): nothing done.";
            if (request.QueuedRunId is long queued)
            {
                await ledger.FinishAsync(queued, RunStatus.Failed, busy, CancellationToken.None);
            }
            throw new InvalidOperationException(busy);
        }
        int seriesTotal = (await ScopeOfAsync(request, cancellationToken))?.Length ?? await queries.SeriesCountAsync(cancellationToken);
        var start = request.QueuedRunId is long queuedRunId
            ? await ledger.StartQueuedAsync(queuedRunId, seriesTotal, cancellationToken)
            : await ledger.StartAsync(request.Kind, request.AsOf, request.TriggeredBy, request.Reason, seriesTotal, request.Scope, cancellationToken);
        long runId = start.Run.RunId;
        if (start.Outcome == RunStartOutcome.AlreadySucceeded)
        {
            logger.RunAlreadyDone(runId, request.AsOf);
            return new ShardedRun(runId, request.AsOf, []);
        }
        try
        {
            var scoringModels = await LoadModelsAsync(cancellationToken);
            await ledger.RecordModelsAsync(runId, scoringModels.ClusteringVersion, scoringModels.ModelIds, cancellationToken);
            var shards = await ledger.Shards.PlanAsync(runId, shardCount, cancellationToken);
            logger.RunStarted(runId, request.Kind, request.AsOf, seriesTotal, scoringModels.Count);
            var pending = shards.Where(s => s.Status != "done").Select(s => s.Shard).ToList();
            if (pending.Count == 0)
            {
                await CompleteShardedAsync(runId, request.AsOf, seriesTotal, cancellationToken);
            }
            return new ShardedRun(runId, request.AsOf, pending);
        }
        catch (Exception exception)
        {
            logger.RunFailed(exception, runId);
            await ledger.FinishAsync(runId, RunStatus.Failed, exception.Message, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Scores one shard of a run for <paramref name="instance"/>: the series of its range not committed yet, with the
    /// clustering the run started with. Nothing to do when the run is no longer running, a whole-run scorer holds
    /// the date, another instance holds the shard, or the shard is done (a recovered or repeated job). The instance that
    /// finishes the last shard finishes the run. A failure fails the shard and the run, with the reason.
    /// </summary>
    public async Task<ShardOutcome> ScoreShardAsync(long runId, int shard, string instance, CancellationToken cancellationToken)
    {
        var run = await queries.RunAsync(runId, cancellationToken);
        if (run is null || run.Status != "running")
        {
            return ShardOutcome.RunNotRunning;
        }
        await using var dateLock = await ledger.TryLockSharedAsync(run.AsOf, cancellationToken);
        if (dateLock is null)
        {
            return ShardOutcome.Busy;
        }
        await using var shardLock = await ledger.TryLockShardAsync(runId, shard, cancellationToken);
        if (shardLock is null)
        {
            return ShardOutcome.Busy;
        }
        var taken = await ledger.Shards.StartAsync(runId, shard, instance, cancellationToken);
        if (taken is null)
        {
            return ShardOutcome.AlreadyDone;
        }
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RunId"] = runId, ["Shard"] = shard });
        try
        {
            var scoringModels = await LoadModelsAsync(cancellationToken, run.ClusteringVersion);
            var done = await ledger.CompletedSeriesAsync(runId, taken.FirstSeriesId - 1, taken.LastSeriesId, cancellationToken);
            var request = new ScoringRequest(run.Kind == "rescore" ? RunKind.Rescore : RunKind.Nightly, run.AsOf, run.TriggeredBy, run.Reason,
                Scope: run.Scope);
            int[]? scoped = await ScopeOfAsync(request, cancellationToken);
            var (_, _, committed) = await ScoreAllAsync(request, runId, run.SeriesTotal, scoringModels, done, new BatchScorer(options.Detection),
                taken.FirstSeriesId - 1, taken.LastSeriesId, scoped, null, cancellationToken);
            await ledger.Shards.FinishAsync(runId, shard, committed, cancellationToken);
            logger.ShardDone(runId, shard, instance, committed);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            logger.RunFailed(exception, runId);
            await ledger.Shards.FailAsync(runId, shard, exception.Message, CancellationToken.None);
            await ledger.FinishAsync(runId, RunStatus.Failed, $"shard {shard}: {exception.Message}", CancellationToken.None);
            throw;
        }
        await CompleteShardedAsync(runId, run.AsOf, run.SeriesTotal, cancellationToken);
        return ShardOutcome.Scored;
    }

    /// <summary>Finishes a sharded run when its last shard is done (once, whoever gets there), with the no-data warning.</summary>
    private async Task CompleteShardedAsync(long runId, DateOnly asOf, int seriesTotal, CancellationToken cancellationToken)
    {
        int noData = await ledger.CountAsync(runId, SeriesStatus.NoData, cancellationToken);
        string? warning = noData * 2 > seriesTotal && seriesTotal > 0
            ? $"most series had no data for {asOf:yyyy-MM-dd}: {noData} of {seriesTotal} (is the day's feed late? run the date again once it is in)"
            : null;
        if (await ledger.Shards.TryCompleteRunAsync(runId, warning, cancellationToken)
            && await ledger.GetAsync(runId, cancellationToken) is { } finished)
        {
            if (warning is not null)
            {
                logger.MostlyNoData(runId, noData, seriesTotal);
            }
            logger.RunSucceeded(runId, finished.SeriesScored, finished.SeriesSkipped, finished.AnomaliesWritten, finished.ElapsedMs ?? 0);
        }
    }

    /// <summary>
    /// Scores every batch, three deep: while batch N is scored, batch N + 1 is read (windows and yesterday's detector
    /// states) and batch N − 1 is committed, so the database works while the CPU scores. Commits stay in order, one in
    /// flight. Returns the time spent waiting for reads and for commits (what the overlap did not hide).
    /// </summary>
    private async Task<(TimeSpan Read, TimeSpan Write, int Series)> ScoreAllAsync(ScoringRequest request, long runId, int seriesTotal, ScoringModels scoringModels,
        IReadOnlySet<int> done, BatchScorer scorer, int afterSeriesId, int lastSeriesId, int[]? scoped, IProgress<WorkProgress>? reporter,
        CancellationToken cancellationToken)
    {
        TimeSpan read = TimeSpan.Zero, write = TimeSpan.Zero;
        int committed = 0;
        int daysRead = scoringModels.DaysToRead(options.DaysRead);
        // Each series reads the days its own cluster's models need; the batch's windows keep the longest length.
        var windows = scoringModels.Windows(options.DaysRead);
        // A scoped rescore reads its series by primary key, not the whole fleet's range: a few series of millions.
        await using var batches = (scoped is null
                ? series.ReadHistoryAsync(request.AsOf, daysRead, options.BatchSize, afterSeriesId, lastSeriesId, cancellationToken, windows)
                : series.ReadHistoryOfAsync(Array.FindAll(scoped, id => id > afterSeriesId && id <= lastSeriesId), request.AsOf, daysRead,
                    options.BatchSize, cancellationToken, windows))
            .GetAsyncEnumerator(cancellationToken);
        async Task<(SeriesHistoryBatch Batch, IReadOnlyDictionary<int, DetectorState> States)?> ReadNextAsync()
        {
            if (!await batches.MoveNextAsync())
            {
                return null;
            }
            var batch = batches.Current;
            return (batch, await queries.DetectorStatesAsync(request.AsOf.AddDays(-1), BatchIds(batch), cancellationToken));
        }

        var next = ReadNextAsync();
        Task commit = Task.CompletedTask;
        int batchesRead = 0, seriesDone = done.Count;
        int batchesTotal = (seriesTotal + options.BatchSize - 1) / options.BatchSize;
        try
        {
            while (true)
            {
                long reading = Stopwatch.GetTimestamp();
                var current = await next;
                read += Stopwatch.GetElapsedTime(reading);
                if (current is not var (batch, states))
                {
                    break;
                }
                next = ReadNextAsync();
                var batchClock = Stopwatch.StartNew();
                var outcomes = new List<SeriesOutcome>(batch.Count);
                var anomalies = new List<AnomalyRow>();
                ScoreBatch(scorer, batch, scoringModels, done, states, options.Detection.QuietDays, outcomes, anomalies);
                long writing = Stopwatch.GetTimestamp();
                await commit;
                write += Stopwatch.GetElapsedTime(writing);
                batchesRead++;
                if (outcomes.Count > 0)
                {
                    committed += outcomes.Count;
                    // Commits run one at a time and in order, so the count here is the count once this one lands.
                    seriesDone += outcomes.Count;
                    var progress = new BatchProgress(batchesRead, Math.Max(batchesTotal, batchesRead), seriesDone, Math.Max(seriesTotal, seriesDone));
                    commit = CommitAsync(runId, request.AsOf, outcomes, anomalies, batchClock, progress, reporter, cancellationToken);
                }
            }
            long last = Stopwatch.GetTimestamp();
            await commit;
            write += Stopwatch.GetElapsedTime(last);
            return (read, write, committed);
        }
        catch
        {
            // Nothing may still use the reader's connection or commit when the run is marked failed.
            await Task.WhenAll(next.ContinueWith(_ => { }, TaskScheduler.Default), commit.ContinueWith(_ => { }, TaskScheduler.Default));
            throw;
        }
    }

    private async Task CommitAsync(long runId, DateOnly asOf, List<SeriesOutcome> outcomes, List<AnomalyRow> anomalies, Stopwatch batchClock,
        BatchProgress progress, IProgress<WorkProgress>? reporter, CancellationToken cancellationToken)
    {
        using var batchActivity = ScoringTelemetry.Source.StartActivity("scoring batch");
        await ledger.CommitBatchAsync(runId, asOf, outcomes, anomalies, cancellationToken);
        int scored = 0;
        foreach (var outcome in outcomes)
        {
            scored += outcome.Status == SeriesStatus.Scored ? 1 : 0;
        }
        ScoringTelemetry.SeriesScored.Add(scored);
        ScoringTelemetry.SeriesSkipped.Add(outcomes.Count - scored);
        ScoringTelemetry.AnomaliesWritten.Add(anomalies.Count);
        ScoringTelemetry.BatchSeconds.Record(batchClock.Elapsed.TotalSeconds);
        logger.BatchCommitted(runId, progress.Batch, progress.BatchesTotal, progress.SeriesDone, progress.SeriesTotal,
            scored, outcomes.Count - scored, anomalies.Count, batchClock.ElapsedMilliseconds);
        reporter?.Report(new WorkProgress("scoring", progress.SeriesDone, progress.SeriesTotal, "series"));
    }

    /// <summary>
    /// Picks each series' model and scores the batch group by group. A series is scored by its cluster's meta-learner
    /// when that exists for its sampling step and its history fills the model's season; otherwise by the generic model
    /// of its step, and the status detail says why.
    /// </summary>
    private static void ScoreBatch(BatchScorer scorer, SeriesHistoryBatch batch, ScoringModels models, IReadOnlySet<int> done,
        IReadOnlyDictionary<int, DetectorState> states, float quietDays, List<SeriesOutcome> outcomes, List<AnomalyRow> anomalies)
    {
        // Each series' detector goes on from yesterday: its residual scale and peak, and a flag late yesterday still
        // silences the first points of today (one alert per event, also across midnight).
        var dayStart = batch.AsOf.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var before = new PreviousDay[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            before[i] = PreviousDay.None;
            if (states.TryGetValue(batch.Series[i].SeriesId, out var state))
            {
                int quiet = 0;
                if (state.LastFlag is DateTime flag)
                {
                    var quietEnd = flag + (TimeSpan.FromDays(1) * quietDays);
                    quiet = Math.Max(0, (int)Math.Floor((quietEnd - dayStart) / TimeSpan.FromSeconds(batch.Series[i].StepSeconds)) + 1);
                }
                before[i] = new PreviousDay(quiet, state.ResidualScale, state.ResidualPeak);
            }
        }
        var groups = new Dictionary<(ScoringModel Model, string? Detail), List<int>>();
        var all = batch.Series;
        for (int i = 0; i < all.Length; i++)
        {
            var history = all[i];
            if (done.Contains(history.SeriesId))
            {
                continue;
            }
            var (model, status, detail) = models.Choose(history, batch.PointsOf(i));
            if (model is null)
            {
                outcomes.Add(new SeriesOutcome(history.SeriesId, status, detail));
                continue;
            }
            if (!groups.TryGetValue((model, detail), out var list))
            {
                groups[(model, detail)] = list = [];
            }
            list.Add(i);
        }
        // A batch holds as many groups as clusters (136 at 2 M series, about 30 series each), and one group is too small
        // to spread over the cores: scored group after group, the run used one core. Units of a few series, from every
        // group, run on all cores instead; each unit's outcomes are appended in the units' order, as before.
        var units = new List<(ScoringModel Model, string? Detail, List<int> Members, int Start, int Count)>();
        foreach (var ((model, detail), list) in groups)
        {
            for (int start = 0; start < list.Count; start += SeriesPerUnit)
            {
                units.Add((model, detail, list, start, Math.Min(SeriesPerUnit, list.Count - start)));
            }
        }
        var unitOutcomes = new List<SeriesOutcome>[units.Count];
        var unitAnomalies = new List<AnomalyRow>[units.Count];
        Parallel.For(0, units.Count, u =>
        {
            var (model, detail, members, start, count) = units[u];
            unitOutcomes[u] = new List<SeriesOutcome>(count);
            unitAnomalies[u] = [];
            scorer.Score(model, detail, batch, CollectionsMarshal.AsSpan(members).Slice(start, count), before, unitOutcomes[u], unitAnomalies[u]);
        });
        for (int u = 0; u < units.Count; u++)
        {
            outcomes.AddRange(unitOutcomes[u]);
            anomalies.AddRange(unitAnomalies[u]);
        }
    }

    // Series per unit of parallel scoring: the adapter's own chunk, so a unit is adapted on the thread that runs it.
    private const int SeriesPerUnit = FastAdapter.ChunkSize;

    /// <summary>
    /// The series a rescore's scope selects, ascending (null: every series). A queued rescore's scope is the one recorded
    /// on its row. A scope that no longer resolves (a series deleted since) fails a queued run with the reason.
    /// </summary>
    private async Task<int[]?> ScopeOfAsync(ScoringRequest request, CancellationToken cancellationToken)
    {
        var asked = request.QueuedRunId is long queued ? (await ledger.GetAsync(queued, cancellationToken))?.Scope : request.Scope;
        if (asked is null || asked.IsWholeFleet)
        {
            return null;
        }
        try
        {
            return (await ledger.Scopes.ResolveAsync(asked, cancellationToken)).SeriesIds;
        }
        catch (ScopeException exception) when (request.QueuedRunId is long queuedRunId)
        {
            await ledger.FinishAsync(queuedRunId, RunStatus.Failed, exception.Message, CancellationToken.None);
            throw;
        }
    }

    private static int[] BatchIds(SeriesHistoryBatch batch)
    {
        var ids = new int[batch.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = batch.Series[i].SeriesId;
        }
        return ids;
    }

    /// <summary>
    /// The newest meta-learner of every cluster of the live clustering and the generic model of every sampling step,
    /// ready for the fast adapter. Models of an older task encoding are left out (and logged). A newer clustering whose
    /// training has not been through all its clusters does not score: the live one goes on, by its own assignments.
    /// </summary>
    private async Task<ScoringModels> LoadModelsAsync(CancellationToken cancellationToken, int? clusteringVersion = null)
    {
        var latest = await clusterings.LoadLatestAsync(cancellationToken);
        // A shard scores with the clustering its run started with, even if another went live since.
        var live = clusteringVersion is int version ? await clusterings.LoadAsync(version, cancellationToken)
            : latest?.LiveAt is null ? await clusterings.LoadLiveAsync(cancellationToken)
            : latest;
        var clusterModels = new Dictionary<int, ScoringModel>();
        if (live is not null)
        {
            foreach (var model in await models.LoadLatestAsync(live.Version, cancellationToken))
            {
                if (ToScoringModel(model.ModelId, $"cluster {model.ClusterId} of clustering {live.Version}",
                    model.ConfigurationJson, model.Checkpoint) is ScoringModel scoring)
                {
                    clusterModels[model.ClusterId] = scoring;
                }
            }
        }
        var generic = new Dictionary<int, ScoringModel>();
        foreach (var model in await models.LoadGenericAsync(cancellationToken))
        {
            if (ToScoringModel(model.ModelId, $"generic model of step {model.StepSeconds} s", model.ConfigurationJson, model.Checkpoint) is ScoringModel scoring)
            {
                generic[model.StepSeconds] = scoring;
            }
        }
        if (clusterModels.Count == 0 && generic.Count == 0)
        {
            throw new InvalidOperationException("No meta-learner in the database: run `anomalymeta train` first.");
        }
        int? pending = latest is not null && latest.Version != live?.Version ? latest.Version : null;
        var liveAssignments = pending is not null && live is not null ? await clusterings.AssignmentsAsync(live.Version, cancellationToken) : null;
        return new ScoringModels(live?.Version, clusterModels, generic, pending, liveAssignments);
    }

    private ScoringModel? ToScoringModel(int modelId, string name, string configurationJson, byte[] checkpoint)
    {
        // The task shape comes from the model's own configuration: scoring must build the tasks it was trained on.
        var configuration = ModelConfiguration.FromJson(configurationJson, modelId);
        if (!configuration.IsOneStep)
        {
            logger.IncompatibleModel(modelId, configuration.Encoding.Length == 0 ? "phase only" : configuration.Encoding);
            return null;
        }
        using var stream = new MemoryStream(checkpoint, writable: false);
        using var learner = MetaLearner.Load(stream);
        return new ScoringModel(modelId, name, new FastAdapter(learner.ExportParameters()), configuration.PrimaryPeriod,
            configuration.SeasonLength, configuration.PointsPerDay, options.AdaptationSteps ?? configuration.InnerSteps);
    }

    private static ScoringSummary Summarise(ScoringRunRecord run, bool alreadyDone, TimeSpan elapsed) =>
        new(run.RunId, run.AsOf, alreadyDone, run.SeriesScored, run.SeriesSkipped, run.AnomaliesWritten, run.BatchesDone, elapsed);
}
