using AnomalyMeta.Storage;
using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>
/// Every morning before scoring (and once when the service starts): makes the coming months' partitions of the
/// growing tables and drops the months past retention. On one instance of the cluster at a time.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class PartitionMaintenanceJob(Partitions partitions, RetentionOptions retention, TimeProvider clock,
    ILogger<PartitionMaintenanceJob> logger) : IJob
{
    public static readonly JobKey Key = new("partition-maintenance", "anomalymeta");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var report = await partitions.MaintainAsync(DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime), retention, cancellationToken);
        Maintained(logger, report.Created, report.ObservationMonthsDropped, report.AnomalyMonthsDropped, report.RunSeriesMonthsDropped);
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information,
        Message = "Partitions: {Created} created ahead; months dropped past retention: observation_day {Observations}, anomaly {Anomalies}, run_series {RunSeries}")]
    private static partial void Maintained(ILogger logger, int created, int observations, int anomalies, int runSeries);
}
