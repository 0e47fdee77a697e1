namespace AnomalyMeta.Storage.Records;

/// <summary>
/// A series to register (or re-register) by its key. <paramref name="StepSeconds"/> must divide a day;
/// it is fixed at first registration because every stored day row has 86400 / step points.
/// </summary>
/// <paramref name="TimeZone"/> (an IANA id such as <c>Europe/Paris</c>) is the clock its daily and weekly cycles follow:
/// UTC for a new series when null; a known series keeps its zone unless one is given.
public sealed record SeriesRegistration(string SeriesKey, int StepSeconds, IReadOnlyDictionary<string, string>? Tags = null, string? TimeZone = null);

/// <summary>
/// One day of one series: 86400 / step_seconds points in time order, NaN where a point is missing.
/// </summary>
public readonly record struct DayRow(int SeriesId, DateOnly Day, float[] Points);

/// <summary>What writing a day row does to a day already stored for the same series.</summary>
public enum DayWriteMode
{
    /// <summary>
    /// The row changes exactly the points it carries: a NaN point is "not in this write" and keeps the stored value,
    /// every other point replaces it. Two partial deliveries of a day add up; a correction of one point keeps the rest.
    /// </summary>
    Merge,

    /// <summary>The row replaces the stored day whole, NaN points included.</summary>
    Replace,

    /// <summary>
    /// Days not stored yet (a new fleet, a backfill into empty days): binary COPY straight into the table, without the
    /// staging table, its checks and the merge. A day already stored fails the whole write, naming it.
    /// </summary>
    New,
}

/// <summary>
/// The clustering step's verdict for one series: its periods, its cluster and the features it was clustered on.
/// </summary>
public sealed record SeriesAssignment(
    int SeriesId,
    int ClusterId,
    int? PrimaryPeriod,
    int? SecondaryPeriod,
    string PeriodStatus,
    float[] Features);
