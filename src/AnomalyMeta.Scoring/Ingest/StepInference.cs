using AnomalyMeta.Core.Series;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>
/// Infers a series' step from its timestamps when none is given: the most common spacing between consecutive distinct
/// timestamps, on a clock step. Each spacing is snapped to the nearest <see cref="AllowedSteps"/> before counting, so a
/// jittered feed (299 s, 301 s, 302 s) counts toward one step, and a gap (600 s in 5-minute data) is one vote for
/// 600 s, outvoted by the regular spacings. A tie goes to the finer step: aggregating onto it loses nothing.
/// </summary>
public static class StepInference
{
    /// <summary>
    /// The steps inference can answer, in seconds: the clock steps that divide a day (1, 2, 3, 4, 5, 6, 10, 12, 15,
    /// 20 and 30 minutes; 1, 2, 3, 4, 6, 8, 12 and 24 hours). Odd divisors of 86400 (72 s, 675 s, ...) are left out:
    /// a feed has them by design, not by jitter, and then gives its step explicitly.
    /// </summary>
    public static IReadOnlyList<int> AllowedSteps { get; } =
    [
        60, 120, 180, 240, 300, 360, 600, 720, 900, 1200, 1800,
        3600, 7200, 10800, 14400, 21600, 28800, 43200, 86400,
    ];

    /// <summary>The allowed step nearest to a spacing (by absolute difference; the smaller on a tie).</summary>
    public static int Snap(double spacingSeconds)
    {
        int best = AllowedSteps[0];
        for (int i = 1; i < AllowedSteps.Count; i++)
        {
            if (Math.Abs(AllowedSteps[i] - spacingSeconds) < Math.Abs(best - spacingSeconds))
            {
                best = AllowedSteps[i];
            }
        }
        return best;
    }

    /// <summary>The step of one series' readings (time order), or null when it has fewer than two distinct timestamps.</summary>
    public static int? Infer(ReadOnlySpan<ObservationReading> readings)
    {
        Span<int> votes = stackalloc int[AllowedSteps.Count];
        Vote(readings, votes);
        return Mode(votes);
    }

    /// <summary>
    /// One step for all the series together (every series' spacings pooled), or null when no series has two distinct
    /// timestamps: the fallback for a series of a single reading.
    /// </summary>
    public static int? Infer(IEnumerable<ObservationReading[]> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        Span<int> votes = stackalloc int[AllowedSteps.Count];
        foreach (var readings in series)
        {
            Vote(readings, votes);
        }
        return Mode(votes);
    }

    /// <summary>
    /// One step from spacings already counted (each spacing between consecutive distinct timestamps, in ticks, with how
    /// often it occurs), or null when there are none: <see cref="Infer(IEnumerable{ObservationReading[]})"/> for
    /// readings that are not in memory.
    /// </summary>
    public static int? Infer(IEnumerable<(long SpacingTicks, long Count)> spacings)
    {
        ArgumentNullException.ThrowIfNull(spacings);
        Span<int> votes = stackalloc int[AllowedSteps.Count];
        foreach (var (spacingTicks, count) in spacings)
        {
            Vote(spacingTicks, (int)Math.Min(count, int.MaxValue / 2), votes);
        }
        return Mode(votes);
    }

    private static void Vote(ReadOnlySpan<ObservationReading> readings, Span<int> votes)
    {
        for (int i = 1; i < readings.Length; i++)
        {
            Vote(readings[i].UtcTicks - readings[i - 1].UtcTicks, 1, votes);
        }
    }

    private static void Vote(long spacingTicks, int count, Span<int> votes)
    {
        if (spacingTicks <= 0)
        {
            // A repeated timestamp says nothing about the spacing.
            return;
        }
        int step = Snap((double)spacingTicks / TimeSpan.TicksPerSecond);
        for (int s = 0; s < AllowedSteps.Count; s++)
        {
            if (AllowedSteps[s] == step)
            {
                votes[s] = (int)Math.Min((long)votes[s] + count, int.MaxValue);
                break;
            }
        }
    }

    private static int? Mode(ReadOnlySpan<int> votes)
    {
        int best = -1;
        for (int s = 0; s < votes.Length; s++)
        {
            // Strictly more: on a tie the earlier, finer step stays.
            if (votes[s] > 0 && (best < 0 || votes[s] > votes[best]))
            {
                best = s;
            }
        }
        return best < 0 ? null : AllowedSteps[best];
    }
}
