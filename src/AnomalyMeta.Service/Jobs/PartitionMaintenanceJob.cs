using AnomalyMeta.Storage;
using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>
/// Every morning before scoring (and once when the service starts): makes the coming months' partitions of the
/// growing tables and drops the months past retention, and the assignments of old clusterings no kept run outcome
/// used. On one instance of the cluster at a time.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class PartitionMaintenanceJob(Partitions partitions, RetentionOptions retention, TimeProvider clock,
    ILogger<PartitionMaintenanceJob> logger) : IJob
{
    public static readonly JobKey Key = new("partition-maintenance", "anomalymeta");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var report = await partitions.MaintainAsync(DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime), retention, cancellationToken);
        Maintained(logger, report.Created, report.ObservationMonthsDropped, report.AnomalyMonthsDropped, report.RunSeriesMonthsDropped,
            report.AssignmentClusteringsDropped);
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information,
        Message = "Partitions: {Created} created ahead; months dropped past retention: observation_day {Observations}, anomaly {Anomalies}, run_series {RunSeries}; "
            + "clusterings whose assignments were dropped: {Clusterings}")]
    private static partial void Maintained(ILogger logger, int created, int observations, int anomalies, int runSeries, int clusterings);
}
