using System.Globalization;
using AnomalyMeta.Scoring;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Storage.Records;
using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>
/// The morning job: scores every series for one day. Thin on purpose: it reads what to score from the trigger's
/// data (nothing for the cron trigger: the day before the trigger's scheduled fire time, nightly) and hands over to
/// <see cref="MorningScoring"/>. Never two at once: a rescore waits for the nightly run, and the other way round.
/// The job requests recovery: when its process dies mid-run, the scheduler (this instance after a restart, or
/// another instance of the cluster) fires it again and the run resumes after its last committed batch.
/// With <c>Scoring:Shards</c> above 1 it only plans the run: each shard becomes a <see cref="ScoringShardJob"/> in the
/// clustered job store, taken by whichever instance is free, and the instance that ends the last shard ends the run.
/// </summary>
[DisallowConcurrentExecution]
public sealed class MorningScoringJob(MorningScoring scoring, MorningScheduleOptions schedule, ScoringOptions options, StagingIngest staging) : IJob
{
    public static readonly JobKey Key = new("morning-scoring", "anomalymeta");

    public const string AsOfKey = "as_of";
    public const string KindKey = "kind";
    public const string TriggeredByKey = "triggered_by";
    public const string ReasonKey = "reason";
    public const string RunIdKey = "run_id";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var data = context.MergedJobDataMap;
        string? Read(string key) => data.TryGetValue(key, out object? value) && value is string text && text.Length > 0 ? text : null;
        var request = new ScoringRequest(
            Read(KindKey) == "rescore" ? RunKind.Rescore : RunKind.Nightly,
            Read(AsOfKey) is string asOf
                ? DateOnly.ParseExact(asOf, "yyyy-MM-dd", CultureInfo.InvariantCulture)
                : NightlyDate(ScheduledFireTime(context, Read), schedule.Zone),
            Read(TriggeredByKey) ?? $"quartz:{context.Trigger.Key.Name}",
            Read(ReasonKey),
            Read(RunIdKey) is string runId ? long.Parse(runId, CultureInfo.InvariantCulture) : null);
        if (request.Kind == RunKind.Nightly)
        {
            // What the ETL staged overnight goes in before the night is scored. A refused row is logged and left staged;
            // the morning scores what is stored, and the late series are scored when the day is scored again.
            await staging.MergeBeforeScoringAsync(cancellationToken);
        }
        if (options.Shards > 1)
        {
            var run = await scoring.StartShardedAsync(request, options.Shards, cancellationToken);
            foreach (int shard in run.PendingShards)
            {
                await ScheduleShardAsync(context.Scheduler, run.RunId, shard, cancellationToken);
            }
            context.Result = new ScoringSummary(run.RunId, run.AsOf, AlreadyDone: run.PendingShards.Count == 0, 0, 0, 0, 0, TimeSpan.Zero);
            return;
        }
        var summary = await scoring.RunAsync(request, cancellationToken);
        context.Result = summary;
    }

    /// <summary>Schedules a shard's job unless it is already in the store (waiting, or running on some instance).</summary>
    private static async Task ScheduleShardAsync(IScheduler scheduler, long runId, int shard, CancellationToken cancellationToken)
    {
        var job = ScoringShardJob.Create(runId, shard);
        if (await scheduler.Exists(job.Key, cancellationToken))
        {
            return;
        }
        try
        {
            await scheduler.ScheduleJob(job, ScoringShardJob.TriggerFor(job.Key), default, cancellationToken);
        }
        catch (ObjectAlreadyExistsException)
        {
            // Another planner of the same run (a hand-back on another instance) got there first.
        }
    }

    /// <summary>
    /// The night a morning scores: the day before the morning's local date. Taken from the scheduled fire time, not
    /// the clock, so a misfired morning fired late (or a recovered one fired again tomorrow) scores its own night.
    /// </summary>
    public static DateOnly NightlyDate(DateTimeOffset scheduledFireTime, TimeZoneInfo zone) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(scheduledFireTime, zone).DateTime).AddDays(-1);

    // A recovered job fires from a new trigger: the original trigger's scheduled time travels in its job data.
    private static DateTimeOffset ScheduledFireTime(IJobExecutionContext context, Func<string, string?> read) =>
        context.Recovering && read(SchedulerConstants.FailedJobOriginalTriggerScheduledFireTime) is string millis
            ? DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(millis, CultureInfo.InvariantCulture))
            : context.ScheduledFireTimeUtc ?? context.FireTimeUtc;

    /// <summary>Job data for an on-demand run (rescore or a nightly run started by hand).</summary>
    public static JobDataMap DataFor(ScoringRequest request)
    {
        var data = new JobDataMap
        {
            [AsOfKey] = request.AsOf.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            [KindKey] = request.Kind == RunKind.Rescore ? "rescore" : "nightly",
            [TriggeredByKey] = request.TriggeredBy,
            [ReasonKey] = request.Reason ?? "",
        };
        if (request.QueuedRunId is long runId)
        {
            data[RunIdKey] = runId.ToString(CultureInfo.InvariantCulture);
        }
        return data;
    }
}
