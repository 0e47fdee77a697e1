using System.Text.Json;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Drift;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Storage;
using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>
/// Before each morning run: series that appeared since the live clustering are assigned to its nearest cluster, so
/// they are scored by a cluster model as soon as their history allows (until then the generic model of their step).
/// </summary>
[DisallowConcurrentExecution]
public sealed class AssignNewSeriesJob(ClusteringStep clustering, JobRuns jobs, TrainingOptions training, TimeProvider clock, MorningScheduleOptions schedule) : IJob
{
    public static readonly JobKey Key = new("assign-new-series", "anomalymeta");

    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) =>
        MaintenanceRun.RecordAsync(jobs, "assign", context, async () =>
        {
            var yesterday = schedule.LastNight(clock);
            int assigned = await clustering.AssignNewAsync(yesterday, training.HistoryDays, cancellationToken);
            return new { assigned, last_day = yesterday };
        }, cancellationToken);
}

/// <summary>
/// Weekly: re-clusters the fleet on its recent history and trains a meta-learner per cluster. The new clustering goes
/// live with its models when training has been through all its clusters (the ledger's runs then record it); a run
/// stopped half-way leaves the previous one scoring.
/// </summary>
[DisallowConcurrentExecution]
public sealed class RetrainJob(ClusteringStep clustering, MetaTrainingStep trainingStep, JobRuns jobs, TrainingOptions training, TimeProvider clock, MorningScheduleOptions schedule) : IJob
{
    public static readonly JobKey Key = new("recluster-and-retrain", "anomalymeta");

    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) =>
        MaintenanceRun.RecordAsync(jobs, "retrain", context, async () =>
        {
            var yesterday = schedule.LastNight(clock);
            var clustered = await clustering.RunAsync(yesterday, training.HistoryDays, cancellationToken);
            var trained = await trainingStep.TrainAsync(yesterday, training, cancellationToken);
            return new
            {
                clustering = clustered.Version,
                clusters = clustered.Clusters.Count,
                moved = clustered.MovedCount,
                trained = trained.Trained.Count,
                skipped = trained.Skipped.Select(s => new { cluster = s.ClusterId, reason = s.Reason }),
                live = trained.LiveClustering,
            };
        }, cancellationToken);
}

/// <summary>
/// Daily after the morning run: each cluster's recent out-of-sample error against the error when its model went live;
/// a cluster past the ratio is retrained early (the reasons are in the job ledger's detail and the log).
/// </summary>
[DisallowConcurrentExecution]
public sealed class DriftCheckJob(DriftCheck drift, DriftOptions options, JobRuns jobs, TrainingOptions training, TimeProvider clock, MorningScheduleOptions schedule) : IJob
{
    public static readonly JobKey Key = new("drift-check", "anomalymeta");

    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) =>
        MaintenanceRun.RecordAsync(jobs, "drift", context, async () =>
        {
            var yesterday = schedule.LastNight(clock);
            var report = await drift.RunAsync(yesterday, options, training, cancellationToken);
            return new
            {
                clustering = report.Clustering,
                retrained = report.Retraining?.Trained.Select(t => new { cluster = t.ClusterId, model = t.ModelId }),
                clusters = report.Clusters.Select(c => new { cluster = c.ClusterId, model = c.ModelId, days = c.DaysScored, c.Baseline, c.Recent, c.Ratio, c.Retrained, c.Reason }),
            };
        }, cancellationToken);
}

/// <summary>Records a maintenance job's execution in the job ledger: a row when it starts, its outcome when it ends.</summary>
internal static class MaintenanceRun
{
    /// <summary>The job data key that carries who asked for a run on demand; the ledger's triggered_by shows it.</summary>
    public const string RequestedByKey = "requested_by";

    public static async ValueTask RecordAsync<T>(JobRuns jobs, string kind, IJobExecutionContext context, Func<Task<T>> work, CancellationToken cancellationToken)
    {
        // A run asked for through POST /api/jobs/{job}/trigger says who asked and why, before the trigger it came by.
        string via = $"quartz:{context.Trigger.Key.Name}@{context.Scheduler.SchedulerInstanceId}";
        string triggeredBy = context.MergedJobDataMap.TryGetString(RequestedByKey, out string? requestedBy) && requestedBy is not null
            ? $"{requestedBy} via {via}"
            : via;
        long id = await jobs.StartAsync(kind, triggeredBy, cancellationToken);
        try
        {
            var detail = await work();
            await jobs.FinishAsync(id, succeeded: true, JsonSerializer.Serialize(detail), null, cancellationToken);
            context.Result = detail;
        }
        catch (Exception exception)
        {
            // Recorded without the token: a stopped job must still say so.
            await jobs.FinishAsync(id, succeeded: false, "{}", exception.Message, CancellationToken.None);
            throw;
        }
    }
}
