using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>
/// On start, hands every unfinished run back to the scheduler: nightly runs of the last <see cref="NightlyDays"/> days
/// left running or failed (a SIGTERM, a crash, a database that went away), and rescores still queued or running.
/// Quartz also recovers the job a dead instance was executing; firing twice is harmless, because the ledger decides:
/// a succeeded run is not scored again and a resumed one skips the series it committed.
/// </summary>
public sealed partial class UnfinishedRuns(RunLedger ledger, ISchedulerFactory schedulers, TimeProvider clock, ILogger<UnfinishedRuns> logger) : IHostedService
{
    /// <summary>How far back a failed nightly run is still worth finishing on its own.</summary>
    public const int NightlyDays = 3;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var unfinished = await ledger.UnfinishedAsync(today.AddDays(-NightlyDays), cancellationToken);
        if (unfinished.Count == 0)
        {
            return;
        }
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        foreach (var run in unfinished)
        {
            var request = run.Kind == RunKind.Rescore
                ? new ScoringRequest(RunKind.Rescore, run.AsOf, run.TriggeredBy, run.Reason, run.RunId)
                : new ScoringRequest(RunKind.Nightly, run.AsOf, run.TriggeredBy, run.Reason);
            await scheduler.TriggerJob(MorningScoringJob.Key, MorningScoringJob.DataFor(request), cancellationToken);
            HandedBack(logger, run.RunId, run.Kind, run.AsOf, run.Status);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning,
        Message = "Run {RunId} ({Kind} of {AsOf}) was left {Status}: handed back to the scheduler to finish it")]
    private static partial void HandedBack(ILogger logger, long runId, RunKind kind, DateOnly asOf, RunStatus status);
}
