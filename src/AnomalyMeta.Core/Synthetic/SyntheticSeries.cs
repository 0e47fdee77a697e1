namespace AnomalyMeta.Core.Synthetic;

/// <summary>The behaviours the generator draws from, each a family real monitoring fleets show.</summary>
public enum SeriesFamily
{
    /// <summary>A smooth daily cycle (temperature-like load).</summary>
    Daily,
    /// <summary>A daily cycle scaled down on weekends (traffic, sales).</summary>
    DailyWeekly,
    /// <summary>A plateau during working hours on weekdays, low otherwise (business systems).</summary>
    BusinessHours,
    /// <summary>A random walk around a level, no season (queue depths, balances).</summary>
    Aperiodic,
}

/// <summary>The kinds of injected anomalies, each with point-level ground truth.</summary>
public enum AnomalyKind
{
    /// <summary>One point far above or below the expected value.</summary>
    Spike,
    /// <summary>Two or three consecutive points pushed in one direction.</summary>
    Burst,
    /// <summary>A step that persists to the end of the day.</summary>
    LevelShift,
    /// <summary>The series drops to zero for a few points (a collector outage).</summary>
    Dropout,
}

/// <summary>One generated series with its ground truth. Values are NaN where a point is missing.</summary>
public sealed record SyntheticSeries(
    string Key,
    SeriesFamily Family,
    int TruePrimaryPeriod,
    int TrueSecondaryPeriod,
    float[] Values,
    bool[] Anomalous,
    AnomalyKind? ScoringDayAnomaly);
