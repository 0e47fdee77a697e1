using Microsoft.Extensions.Logging;

namespace AnomalyMeta.Scoring;

/// <summary>Recurring log events of scoring runs; the event ids live here and nowhere else.</summary>
internal static partial class LogMessages
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Run {RunId} ({Kind}) for {AsOf} started: {SeriesTotal} series, {ModelCount} cluster models")]
    public static partial void RunStarted(this ILogger logger, long runId, AnomalyMeta.Storage.Records.RunKind kind, DateOnly asOf, int seriesTotal, int modelCount);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Nightly run {RunId} for {AsOf} already succeeded: nothing to do")]
    public static partial void RunAlreadyDone(this ILogger logger, long runId, DateOnly asOf);

    // Information: the operator's progress line while a run is under way (a few hundred lines for millions of series).
    [LoggerMessage(EventId = 1003, Level = LogLevel.Information,
        Message = "Run {RunId}: batch {Batch} of {BatchesTotal} committed, {SeriesDone} of {SeriesTotal} series done; this batch {Scored} scored, {Skipped} skipped, {Anomalies} anomalies in {ElapsedMs} ms")]
    public static partial void BatchCommitted(this ILogger logger, long runId, int batch, int batchesTotal, int seriesDone, int seriesTotal,
        int scored, int skipped, int anomalies, long elapsedMs);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Run {RunId} succeeded: {Scored} scored, {Skipped} skipped, {Anomalies} anomalies in {ElapsedMs} ms")]
    public static partial void RunSucceeded(this ILogger logger, long runId, int scored, int skipped, int anomalies, long elapsedMs);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Warning,
        Message = "Run {RunId}: most series had no data for the day ({NoData} of {Total}); the feed may be late: run the date again once it is in")]
    public static partial void MostlyNoData(this ILogger logger, long runId, int noData, int total);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Error, Message = "Run {RunId} failed")]
    public static partial void RunFailed(this ILogger logger, Exception exception, long runId);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Clustering {Version}: {SeriesCount} series in {ClusterCount} clusters, {Moved} moved, in {ElapsedMs} ms")]
    public static partial void Clustered(this ILogger logger, int version, int seriesCount, int clusterCount, int? moved, long elapsedMs);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Trained cluster {ClusterId} (season {SeasonLength}) on {SeriesCount} series: meta-loss {MetaLoss} in {ElapsedMs} ms")]
    public static partial void TrainedCluster(this ILogger logger, int clusterId, int seasonLength, int seriesCount, double metaLoss, long elapsedMs);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Cluster {ClusterId} not trained: {Reason}")]
    public static partial void SkippedCluster(this ILogger logger, int clusterId, string reason);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Trained the generic model of step {StepSeconds} s (season {SeasonLength}) on generated series: meta-loss {MetaLoss} in {ElapsedMs} ms")]
    public static partial void TrainedGeneric(this ILogger logger, int stepSeconds, int seasonLength, double metaLoss, long elapsedMs);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Clustering {Version} is live: {Trained} clusters with their own model, {Skipped} on the generic model of their step")]
    public static partial void ClusteringLive(this ILogger logger, int version, int trained, int skipped);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Model {ModelId} was trained for another task encoding ({Encoding}): not used; retrain with `anomalymeta train`")]
    public static partial void IncompatibleModel(this ILogger logger, int modelId, string encoding);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Run {OrphanRunId} for {AsOf} was still marked running with no process scoring it: marked failed")]
    public static partial void OrphanFailed(this ILogger logger, long orphanRunId, DateOnly asOf);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Run {RunId}: shard {Shard} scored by {Instance}: {Series} series committed")]
    public static partial void ShardDone(this ILogger logger, long runId, int shard, string instance, int series);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning, Message = "Clustering {Version}, cluster {ClusterId} drifted: {Reason}")]
    public static partial void ClusterDrifted(this ILogger logger, int version, int clusterId, string reason);
}
