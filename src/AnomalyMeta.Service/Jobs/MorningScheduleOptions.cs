using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>When the morning job runs, bound from the "Scheduling" section and checked at start.</summary>
public sealed class MorningScheduleOptions
{
    public const string Section = "Scheduling";

    /// <summary>Quartz cron expression (seconds first). Default: every day at 06:00.</summary>
    public string Cron { get; set; } = "0 0 6 * * ?";

    /// <summary>When partitions are made ahead and old months dropped (Quartz cron, in <see cref="TimeZone"/>). Default: 05:30.</summary>
    public string MaintenanceCron { get; set; } = "0 30 5 * * ?";

    /// <summary>When new series are assigned to the live clustering (before the morning run). Default: 05:45.</summary>
    public string AssignCron { get; set; } = "0 45 5 * * ?";

    /// <summary>When the fleet is re-clustered and retrained. Default: Sundays at 02:00.</summary>
    public string RetrainCron { get; set; } = "0 0 2 ? * SUN";

    /// <summary>When the drift check runs (after the morning run). Default: 07:30.</summary>
    public string DriftCron { get; set; } = "0 30 7 * * ?";

    /// <summary>IANA time zone of the cron expression.</summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>
    /// This instance's name in the Quartz cluster (recorded on each shard it scores). Unset: generated from the host
    /// name and the start time; every instance of a cluster needs a different one.
    /// </summary>
    public string? InstanceId { get; set; }

    /// <summary>
    /// How often an instance tells the cluster it is alive, in seconds. An instance silent for about twice this long is
    /// taken for dead and another one recovers the jobs it was running.
    /// </summary>
    public double CheckinSeconds { get; set; } = 7.5;

    /// <summary>
    /// How long an idle instance waits before it looks for due jobs in the shared store, in seconds. Another instance's
    /// new jobs (the shards of a run it planned) wake nobody else, so this bounds how soon every instance joins a run.
    /// </summary>
    public double IdleWaitSeconds { get; set; } = 2;

    /// <summary>
    /// Jobs one instance runs at once. A shard's scoring already uses every core (the adapter is parallel over
    /// series), so one: with two, each instance took two shards at once, and two instances on one 2-core machine scored
    /// 200k series in 62.4 s instead of 43.9 s (one process alone: 31.5 s). Maintenance jobs and on-demand runs wait for
    /// the thread like shards do.
    /// </summary>
    public int MaxConcurrency { get; set; } = 1;

    /// <summary>The time zone of <see cref="TimeZone"/>.</summary>
    public TimeZoneInfo Zone => TimeZoneInfo.FindSystemTimeZoneById(TimeZone);

    /// <summary>
    /// The last night, as the morning run counts it: the day before today in <see cref="Zone"/>. The maintenance jobs
    /// work up to it (in UTC, a job at 05:45 in Tokyo worked on the night before the one the morning run scores).
    /// </summary>
    public DateOnly LastNight(TimeProvider clock) => MorningScoringJob.NightlyDate(clock.GetUtcNow(), Zone);

    public void Validate()
    {
        if (!CronExpression.TryParse(Cron, out _))
        {
            throw new InvalidOperationException($"Scheduling:Cron '{Cron}' is not a valid Quartz cron expression (seconds minutes hours day month weekday).");
        }
        foreach (var (name, cron) in new[] { ("MaintenanceCron", MaintenanceCron), ("AssignCron", AssignCron), ("RetrainCron", RetrainCron), ("DriftCron", DriftCron) })
        {
            if (!CronExpression.TryParse(cron, out _))
            {
                throw new InvalidOperationException($"Scheduling:{name} '{cron}' is not a valid Quartz cron expression.");
            }
        }
        if (CheckinSeconds is not (>= 0.5 and <= 600) || IdleWaitSeconds is not (>= 1 and <= 300))
        {
            throw new InvalidOperationException(
                $"Scheduling:CheckinSeconds must be in 0.5..600 and Scheduling:IdleWaitSeconds in 1..300, found {CheckinSeconds} and {IdleWaitSeconds}.");
        }
        if (MaxConcurrency is < 1 or > 64)
        {
            throw new InvalidOperationException($"Scheduling:MaxConcurrency must be in 1..64, found {MaxConcurrency}.");
        }
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(TimeZone, out _))
        {
            throw new InvalidOperationException($"Scheduling:TimeZone '{TimeZone}' is not a time zone this machine knows (an IANA id such as Europe/Paris).");
        }
    }
}
