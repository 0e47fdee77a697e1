using System.Diagnostics;
using AnomalyMeta.Core.Series;
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
    public async Task<ScoringSummary> RunAsync(ScoringRequest request, CancellationToken cancellationToken)
    {
        using var activity = ScoringTelemetry.Source.StartActivity("scoring run");
        activity?.SetTag("anomalymeta.as_of", request.AsOf.ToString("O"));
        var clock = Stopwatch.StartNew();

        var (clusterVersion, scoringModels) = await LoadModelsAsync(cancellationToken);
        int seriesTotal = await queries.SeriesCountAsync(cancellationToken);
        var start = await ledger.StartAsync(request.Kind, request.AsOf, request.TriggeredBy, request.Reason, seriesTotal, cancellationToken);
        long runId = start.Run.RunId;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RunId"] = runId });
        if (start.Outcome == RunStartOutcome.AlreadySucceeded)
        {
            logger.RunAlreadyDone(runId, request.AsOf);
            return Summarise(start.Run, alreadyDone: true, clock.Elapsed);
        }
        logger.RunStarted(runId, request.Kind, request.AsOf, seriesTotal, scoringModels.Count);

        try
        {
            var done = start.Outcome == RunStartOutcome.Resumed
                ? await ledger.CompletedSeriesAsync(runId, cancellationToken)
                : new HashSet<int>();
            var scorer = new BatchScorer(options.Detection);
            var outcomes = new List<SeriesOutcome>(options.BatchSize);
            var anomalies = new List<AnomalyRow>();
            await foreach (var batch in series.ReadHistoryAsync(request.AsOf, DaysToRead(scoringModels), options.BatchSize, cancellationToken))
            {
                using var batchActivity = ScoringTelemetry.Source.StartActivity("scoring batch");
                var batchClock = Stopwatch.StartNew();
                outcomes.Clear();
                anomalies.Clear();
                ScoreBatch(scorer, batch, clusterVersion, scoringModels, done, outcomes, anomalies);
                if (outcomes.Count == 0)
                {
                    continue;
                }
                await ledger.CommitBatchAsync(runId, request.AsOf, outcomes, anomalies, cancellationToken);

                int scored = 0;
                foreach (var outcome in outcomes)
                {
                    scored += outcome.Status == SeriesStatus.Scored ? 1 : 0;
                }
                ScoringTelemetry.SeriesScored.Add(scored);
                ScoringTelemetry.SeriesSkipped.Add(outcomes.Count - scored);
                ScoringTelemetry.AnomaliesWritten.Add(anomalies.Count);
                ScoringTelemetry.BatchSeconds.Record(batchClock.Elapsed.TotalSeconds);
                logger.BatchCommitted(outcomes.Count, scored, outcomes.Count - scored, anomalies.Count, batchClock.ElapsedMilliseconds);
            }
            await ledger.FinishAsync(runId, RunStatus.Succeeded, null, cancellationToken);
            var finished = await ledger.GetAsync(runId, cancellationToken)
                ?? throw new InvalidOperationException($"Run {runId} vanished from the ledger.");
            logger.RunSucceeded(runId, finished.SeriesScored, finished.SeriesSkipped, finished.AnomaliesWritten, clock.ElapsedMilliseconds);
            return Summarise(finished, alreadyDone: false, clock.Elapsed);
        }
        catch (Exception exception)
        {
            logger.RunFailed(exception, runId);
            // The ledger must say the run failed even when the run was cancelled: record it without the token.
            await ledger.FinishAsync(runId, RunStatus.Failed, exception.Message, CancellationToken.None);
            throw;
        }
    }

    /// <summary>Groups the batch's series by cluster and scores each group on its cluster's model.</summary>
    private static void ScoreBatch(BatchScorer scorer, SeriesHistoryBatch batch, int clusterVersion,
        IReadOnlyDictionary<int, ClusterScoringModel> scoringModels, IReadOnlySet<int> done,
        List<SeriesOutcome> outcomes, List<AnomalyRow> anomalies)
    {
        var members = new Dictionary<int, List<int>>();
        var all = batch.Series;
        for (int i = 0; i < all.Length; i++)
        {
            var history = all[i];
            if (done.Contains(history.SeriesId))
            {
                continue;
            }
            if (history.ClusterVersion != clusterVersion || history.ClusterId is not int clusterId
                || !scoringModels.TryGetValue(clusterId, out var model) || model.PointsPerDay != history.PointsPerDay)
            {
                outcomes.Add(new SeriesOutcome(history.SeriesId, SeriesStatus.NoModel,
                    $"no meta-learner for cluster {history.ClusterId?.ToString() ?? "(unassigned)"} of clustering {history.ClusterVersion?.ToString() ?? "(none)"}; current clustering is {clusterVersion}"));
                continue;
            }
            if (!members.TryGetValue(clusterId, out var list))
            {
                members[clusterId] = list = [];
            }
            list.Add(i);
        }
        foreach (var (clusterId, list) in members)
        {
            scorer.Score(scoringModels[clusterId], batch, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list), outcomes, anomalies);
        }
    }

    /// <summary>The newest meta-learner of every cluster of the latest clustering, ready for the fast adapter.</summary>
    private async Task<(int ClusterVersion, IReadOnlyDictionary<int, ClusterScoringModel> Models)> LoadModelsAsync(CancellationToken cancellationToken)
    {
        var clustering = await clusterings.LoadLatestAsync(cancellationToken)
            ?? throw new InvalidOperationException("No clustering in the database: run `anomalymeta cluster` and `anomalymeta train` first.");
        var stored = await models.LoadLatestAsync(clustering.Version, cancellationToken);
        if (stored.Count == 0)
        {
            throw new InvalidOperationException($"No meta-learner for clustering {clustering.Version}: run `anomalymeta train` first.");
        }
        var result = new Dictionary<int, ClusterScoringModel>();
        foreach (var model in stored)
        {
            // The task shape comes from the model's own configuration: scoring must build the tasks it was trained on.
            var configuration = ModelConfiguration.FromJson(model.ConfigurationJson, model.ModelId);
            using var stream = new MemoryStream(model.Checkpoint, writable: false);
            using var learner = MetaLearner.Load(stream);
            result[model.ClusterId] = new ClusterScoringModel(model.ClusterId, new FastAdapter(learner.ExportParameters()),
                configuration.PrimaryPeriod, configuration.SecondaryPeriod, configuration.PointsPerDay,
                options.AdaptationSteps ?? configuration.InnerSteps);
        }
        return (clustering.Version, result);
    }

    /// <summary>Days each window needs: the longest season of any model plus the scoring day, and at least DaysRead.</summary>
    private int DaysToRead(IReadOnlyDictionary<int, ClusterScoringModel> scoringModels)
    {
        int days = options.DaysRead;
        foreach (var model in scoringModels.Values)
        {
            days = Math.Max(days, (model.SeasonLength + (2 * model.PointsPerDay) - 1) / model.PointsPerDay);
        }
        return days;
    }

    private static ScoringSummary Summarise(ScoringRunRecord run, bool alreadyDone, TimeSpan elapsed) =>
        new(run.RunId, run.AsOf, alreadyDone, run.SeriesScored, run.SeriesSkipped, run.AnomaliesWritten, run.BatchesDone, elapsed);
}
