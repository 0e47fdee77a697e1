namespace AnomalyMeta.Periodicity;

/// <summary>Settings of <see cref="PeriodDetector"/>; the defaults were tuned on generated series and M4 Hourly/Weekly.</summary>
public sealed class PeriodDetectorOptions
{
    /// <summary>Shortest period considered, in points.</summary>
    public int MinPeriod { get; init; } = 3;

    /// <summary>Longest period considered, in points. A series can confirm periods up to a third of its length only.</summary>
    public int MaxPeriod { get; init; } = 1000;

    /// <summary>Series with fewer observed (non-NaN) points than this get <see cref="PeriodStatus.TooShort"/>.</summary>
    public int MinLength { get; init; } = 12;

    /// <summary>
    /// The period the caller expects from the sampling step (24 for hourly data), 0 when unknown. A series with
    /// fewer than two such periods of points gets <see cref="PeriodStatus.TooShort"/> instead of a verdict of
    /// "aperiodic" it cannot support. Without it, a series can confirm periods up to a third of its length.
    /// </summary>
    public int ExpectedPeriod { get; init; }

    /// <summary>Adjusted seasonal strength a candidate needs to be confirmed.</summary>
    public float MinStrength { get; init; } = 0.3f;

    /// <summary>
    /// A divisor of the strongest period becomes the primary period when it keeps at least this share of the
    /// strongest period's strength (24 inside 168); a sub-harmonic (12 inside 24) usually keeps much less.
    /// </summary>
    public float DivisorStrengthRatio { get; init; } = 0.6f;

    /// <summary>Strength a multiple of the primary period must add to be reported as secondary period.</summary>
    public float MinSecondaryGain { get; init; } = 0.02f;

    /// <summary>Candidates taken from the periodogram and, separately, from the autocorrelation peaks.</summary>
    public int CandidatesPerSource { get; init; } = 5;

    /// <summary>
    /// Longest lag scanned for autocorrelation peaks; longer periods come from the periodogram (refined on the
    /// autocorrelation hill around each peak). Keeps long series from paying a quadratic autocorrelation.
    /// </summary>
    public int AcfScanLimit { get; init; } = 400;

    /// <summary>Multiples of the primary period tried as secondary period (7 finds 168 from 24).</summary>
    public int MaxMultiple { get; init; } = 7;

    /// <summary>
    /// A series aperiodic as a whole is periodic when its recent half is, with the period repeating at least this
    /// many times there (a drifted or changed cycle). 0 turns the second look off.
    /// </summary>
    public int RecentRegimeMinCycles { get; init; } = 8;

    /// <summary>
    /// Observed points the recent half needs for the second look: in shorter halves random walks fake short periods
    /// of many cycles (measured: +1 to 2 % false periods at 80 to 120 points, none from 150 on).
    /// </summary>
    public int RecentRegimeMinPoints { get; init; } = 150;

    /// <summary>Periods always tried besides the detected candidates (for example 24 and 168 for hourly data).</summary>
    public IReadOnlyList<int> HintPeriods { get; init; } = [];

    /// <summary>
    /// Calendar periods (in points for the usual sampling steps) that replace the best candidate when within 2.5% of
    /// it and about as strong: the estimate of a long period from a few cycles is only good to a point or two.
    /// Empty to trust the data alone.
    /// </summary>
    public IReadOnlyList<int> PreferredPeriods { get; init; } =
        [7, 12, 24, 48, 52, 60, 96, 144, 168, 288, 336, 365, 672, 1008, 1440, 2016];

    /// <summary>Throws when the options cannot work together.</summary>
    public void Validate()
    {
        if (MinPeriod < 2)
        {
            throw new ArgumentException($"MinPeriod must be at least 2, found {MinPeriod}.");
        }

        if (MaxPeriod < MinPeriod)
        {
            throw new ArgumentException($"MaxPeriod ({MaxPeriod}) must not be below MinPeriod ({MinPeriod}).");
        }

        if (MinLength < 3 * MinPeriod)
        {
            throw new ArgumentException($"MinLength ({MinLength}) must be at least 3 * MinPeriod ({3 * MinPeriod}).");
        }

        if (RecentRegimeMinCycles < 0 || RecentRegimeMinPoints < 0)
        {
            throw new ArgumentException(
                $"RecentRegimeMinCycles ({RecentRegimeMinCycles}) and RecentRegimeMinPoints ({RecentRegimeMinPoints}) must not be negative.");
        }

        if (ExpectedPeriod < 0)
        {
            throw new ArgumentException($"ExpectedPeriod must be 0 (unknown) or positive, found {ExpectedPeriod}.");
        }

        if (MinStrength is <= 0f or >= 1f || DivisorStrengthRatio is <= 0f or > 1f)
        {
            throw new ArgumentException("MinStrength must be in (0, 1) and DivisorStrengthRatio in (0, 1].");
        }
    }
}
