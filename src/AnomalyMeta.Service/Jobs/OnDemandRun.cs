using AnomalyMeta.Scoring.Runs;
using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>
/// Fires the morning job now, through the scheduler (so it queues behind a running job instead of racing it),
/// and waits for its summary. For the demo, the CLI and tests; the API fires and returns at once.
/// </summary>
public static class OnDemandRun
{
    public static async Task<ScoringSummary> RunAsync(ISchedulerFactory schedulers, ScoringRequest request, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var listener = new CompletionListener($"on-demand-{Guid.NewGuid():N}");
        scheduler.ListenerManager.AddJobListener(listener, [Matchers.Key(MorningScoringJob.Key)]);
        try
        {
            await scheduler.TriggerJob(MorningScoringJob.Key, MorningScoringJob.DataFor(request), cancellationToken);
            return await listener.Completion.WaitAsync(cancellationToken);
        }
        finally
        {
            scheduler.ListenerManager.RemoveJobListener(listener.Name);
        }
    }

    private sealed class CompletionListener(string name) : IJobListener
    {
        private readonly TaskCompletionSource<ScoringSummary> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name { get; } = name;

        public Task<ScoringSummary> Completion => _completion.Task;

        public ValueTask JobToBeExecuted(IJobExecutionContext context, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask JobExecutionVetoed(IJobExecutionContext context, CancellationToken cancellationToken = default)
        {
            _completion.TrySetException(new InvalidOperationException("The scheduler vetoed the morning job."));
            return ValueTask.CompletedTask;
        }

        public ValueTask JobWasExecuted(IJobExecutionContext context, JobExecutionException? jobException, CancellationToken cancellationToken = default)
        {
            if (jobException is not null)
            {
                _completion.TrySetException(jobException.InnerException ?? jobException);
            }
            else if (context.Result is ScoringSummary summary)
            {
                _completion.TrySetResult(summary);
            }
            else
            {
                _completion.TrySetException(new InvalidOperationException("The morning job finished without a summary."));
            }
            return ValueTask.CompletedTask;
        }
    }
}
