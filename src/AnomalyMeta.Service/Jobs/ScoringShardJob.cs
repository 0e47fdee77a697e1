using System.Globalization;
using AnomalyMeta.Scoring.Runs;
using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>
/// One shard of a sharded run (a series_id range), scheduled by the morning job into the clustered job store, so
/// whichever instance of the cluster has a free thread takes it. Recovery is requested: when the instance running it
/// dies, another one fires it again and it scores the shard's series not committed yet. Stopped by a shutdown, it
/// schedules itself again before it ends, so a surviving instance takes it over.
/// </summary>
public sealed class ScoringShardJob(MorningScoring scoring) : IJob
{
    public const string Group = "anomalymeta-shards";
    public const string RunIdKey = "run_id";
    public const string ShardKey = "shard";

    public static JobKey KeyOf(long runId, int shard) => new(string.Create(CultureInfo.InvariantCulture, $"run-{runId}-shard-{shard}"), Group);

    /// <summary>The shard's job, durable until done: recovery requested.</summary>
    public static IJobDetail Create(long runId, int shard) => JobBuilder.Create<ScoringShardJob>()
        .WithIdentity(KeyOf(runId, shard))
        .UsingJobData(RunIdKey, runId.ToString(CultureInfo.InvariantCulture))
        .UsingJobData(ShardKey, shard.ToString(CultureInfo.InvariantCulture))
        .RequestRecovery()
        .Build();

    /// <summary>
    /// A shard's trigger: due now. Shards outnumber the cluster's threads, so most wait their turn, often longer than
    /// the store's misfire threshold (60 s); a misfired trigger would wait for the next misfire scan (up to another
    /// minute) while threads sit idle. A day of threshold keeps a waiting shard a plain due trigger any free thread takes.
    /// </summary>
    public static ITrigger TriggerFor(JobKey job) => TriggerBuilder.Create().ForJob(job).StartNow().WithMisfireThreshold(TimeSpan.FromDays(1)).Build();

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var data = context.MergedJobDataMap;
        long runId = long.Parse(data.GetString(RunIdKey)!, CultureInfo.InvariantCulture);
        int shard = int.Parse(data.GetString(ShardKey)!, CultureInfo.InvariantCulture);
        try
        {
            context.Result = await scoring.ScoreShardAsync(runId, shard, context.Scheduler.SchedulerInstanceId, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // A shutdown, not a crash: nothing recovers a job its instance stopped cleanly, so hand the shard back.
            await context.Scheduler.ScheduleJob(
                TriggerFor(context.JobDetail.Key), default, CancellationToken.None);
            throw;
        }
    }
}
