using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>When the morning job runs, bound from the "Scheduling" section and checked at start.</summary>
public sealed class MorningScheduleOptions
{
    public const string Section = "Scheduling";

    /// <summary>Quartz cron expression (seconds first). Default: every day at 06:00.</summary>
    public string Cron { get; set; } = "0 0 6 * * ?";

    /// <summary>IANA time zone of the cron expression.</summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>The time zone of <see cref="TimeZone"/>.</summary>
    public TimeZoneInfo Zone => TimeZoneInfo.FindSystemTimeZoneById(TimeZone);

    public void Validate()
    {
        if (!CronExpression.TryParse(Cron, out _))
        {
            throw new InvalidOperationException($"Scheduling:Cron '{Cron}' is not a valid Quartz cron expression (seconds minutes hours day month weekday).");
        }
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(TimeZone, out _))
        {
            throw new InvalidOperationException($"Scheduling:TimeZone '{TimeZone}' is not a time zone this machine knows (an IANA id such as Europe/Paris).");
        }
    }
}
