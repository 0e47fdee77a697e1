using Quartz;

namespace AnomalyMeta.Service.Alerts;

/// <summary>
/// The delivery step, apart from scoring so a run never waits on a webhook: fired when a run succeeds
/// (<see cref="Jobs.AfterSucceededRuns"/>) and every <see cref="AlertOptions.SweepMinutes"/>, which also picks up runs scored by
/// the CLI, deliveries that failed, and whatever a restart interrupted. Never two at once in the cluster: two passes
/// would post the same route twice.
/// </summary>
[DisallowConcurrentExecution]
public sealed class AlertDeliveryJob(AlertDispatcher dispatcher) : IJob
{
    public static readonly JobKey Key = new("alert-delivery", "anomalymeta-alerts");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        context.Result = await dispatcher.DeliverOwedAsync(cancellationToken);
    }
}
