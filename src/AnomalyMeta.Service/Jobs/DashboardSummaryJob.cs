using System.Diagnostics;
using System.Globalization;
using AnomalyMeta.Storage;
using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>
/// Makes a scored day's dashboard summary (counts and top flags per tag value) right after its run succeeds. Reads
/// make it too when they find it stale, but at two million series that takes tens of seconds: better spent by the
/// service after the run than by the first person who opens the day.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class DashboardSummaryJob(DashboardQueries dashboard, ILogger<DashboardSummaryJob> logger) : IJob
{
    public static readonly JobKey Key = new("dashboard-summary", "anomalymeta");

    public const string AsOfKey = "as_of";

    public static JobDataMap DataFor(DateOnly asOf) => new() { [AsOfKey] = asOf.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) };

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        if (!context.MergedJobDataMap.TryGetString(AsOfKey, out string? text)
            || !DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var asOf))
        {
            return;   // Fired without a day (by hand): nothing to make.
        }
        var clock = Stopwatch.StartNew();
        var totals = await dashboard.DaySummaryAsync(asOf, cancellationToken);
        SummaryReady(logger, asOf, totals.Anomalies, clock.ElapsedMilliseconds);
    }

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "Dashboard summary of {AsOf}: {Anomalies} flags, ready in {ElapsedMs} ms")]
    private static partial void SummaryReady(ILogger logger, DateOnly asOf, int anomalies, long elapsedMs);
}
