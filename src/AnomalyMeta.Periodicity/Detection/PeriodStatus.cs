namespace AnomalyMeta.Periodicity;

/// <summary>Outcome of period detection for one series.</summary>
public enum PeriodStatus
{
    /// <summary>At least one period was confirmed by the seasonal decomposition.</summary>
    Periodic,

    /// <summary>No candidate period explains enough of the variance.</summary>
    Aperiodic,

    /// <summary>Too few observed points to confirm any period (see <see cref="PeriodDetectorOptions.MinLength"/>).</summary>
    TooShort,
}

/// <summary>
/// Periods found in one series, in points. 0 means "none": an aperiodic series has both periods 0, a series with a
/// single period has <see cref="SecondaryPeriod"/> 0. When both exist the secondary period is a multiple of the
/// primary one (hourly data: 24 and 168).
/// </summary>
/// <param name="Status">Whether a period was found, or why not.</param>
/// <param name="PrimaryPeriod">Shortest confirmed period, 0 if none.</param>
/// <param name="SecondaryPeriod">Longer period (multiple of the primary) that explains clearly more variance, 0 if none.</param>
/// <param name="Strength">Seasonal strength of the longest reported period in [0, 1] (1 - Var(remainder) / Var(detrended)).</param>
public readonly record struct PeriodEstimate(PeriodStatus Status, int PrimaryPeriod, int SecondaryPeriod, float Strength)
{
    /// <summary>The season a forecaster should use: secondary if present, else primary, else 0.</summary>
    public int SeasonLength => SecondaryPeriod > 0 ? SecondaryPeriod : PrimaryPeriod;
}
