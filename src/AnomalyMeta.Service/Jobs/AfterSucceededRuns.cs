using System.Globalization;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Service.Alerts;
using AnomalyMeta.Storage;
using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>
/// What follows a scoring job that leaves its run succeeded (the morning job of a whole run, or the shard job that
/// finished a sharded run's last shard; the other shards leave it running and fire nothing): the day's dashboard
/// summary is made at once (<see cref="DashboardSummaryJob"/>), so the first person to open the day does not wait for
/// it, and the alert delivery is fired when routes are configured. Listening to the scheduler keeps the scoring jobs
/// and <see cref="MorningScoring"/> unaware of both.
/// </summary>
public sealed partial class AfterSucceededRuns(AnomalyQueries queries, AlertOptions options, ILogger<AfterSucceededRuns> logger) : IJobListener
{
    public string Name => "after-succeeded-runs";

    public ValueTask JobToBeExecuted(IJobExecutionContext context, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask JobExecutionVetoed(IJobExecutionContext context, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public async ValueTask JobWasExecuted(IJobExecutionContext context, JobExecutionException? jobException, CancellationToken cancellationToken = default)
    {
        if (jobException is not null)
        {
            return;
        }
        long? runId = context.Result is ScoringSummary summary ? summary.RunId
            : context.MergedJobDataMap.TryGetString(ScoringShardJob.RunIdKey, out string? text) && text is not null
                ? long.Parse(text, CultureInfo.InvariantCulture)
                : null;
        if (runId is not long id)
        {
            return;
        }
        try
        {
            if (await queries.RunAsync(id, cancellationToken) is { Status: "succeeded" } run)
            {
                await context.Scheduler.TriggerJob(DashboardSummaryJob.Key, DashboardSummaryJob.DataFor(run.AsOf), cancellationToken);
                if (options.Routes.Count > 0)
                {
                    await context.Scheduler.TriggerJob(AlertDeliveryJob.Key, new JobDataMap(), cancellationToken);
                }
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The dashboard makes a stale summary on first read and the periodic pass delivers alerts anyway; a listener
            // that throws would only be logged by Quartz without the run.
            NotFired(logger, exception, id);
        }
    }

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning,
        Message = "Run {RunId} succeeded but its dashboard summary and alert delivery could not be fired now; the dashboard makes the summary on first read and the periodic pass delivers alerts")]
    private static partial void NotFired(ILogger logger, Exception exception, long runId);
}
