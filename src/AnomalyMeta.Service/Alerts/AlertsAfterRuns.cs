using System.Globalization;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using Quartz;

namespace AnomalyMeta.Service.Alerts;

/// <summary>
/// Fires the delivery step as soon as a scoring job leaves its run succeeded: the morning job of a whole run, or the shard
/// job that finished a sharded run's last shard (the other shards leave it running and fire nothing). Listening to the
/// scheduler keeps the scoring jobs and <see cref="MorningScoring"/> unaware of alerts.
/// </summary>
public sealed partial class AlertsAfterRuns(AnomalyQueries queries, AlertOptions options, ILogger<AlertsAfterRuns> logger) : IJobListener
{
    public string Name => "alerts-after-runs";

    public ValueTask JobToBeExecuted(IJobExecutionContext context, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask JobExecutionVetoed(IJobExecutionContext context, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public async ValueTask JobWasExecuted(IJobExecutionContext context, JobExecutionException? jobException, CancellationToken cancellationToken = default)
    {
        if (jobException is not null || options.Routes.Count == 0)
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
            if ((await queries.RunAsync(id, cancellationToken))?.Status == "succeeded")
            {
                await context.Scheduler.TriggerJob(AlertDeliveryJob.Key, new JobDataMap(), cancellationToken);
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The periodic pass delivers it anyway; a listener that throws would only be logged by Quartz without the run.
            NotFired(logger, exception, id);
        }
    }

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning,
        Message = "Run {RunId} succeeded but its alert delivery could not be fired now; the periodic pass delivers it")]
    private static partial void NotFired(ILogger logger, Exception exception, long runId);
}
