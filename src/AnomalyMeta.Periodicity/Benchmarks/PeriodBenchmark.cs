using System.Diagnostics;
using AnomalyMeta.Periodicity.Synthetic;

namespace AnomalyMeta.Periodicity.Benchmarks;

/// <summary>Accuracy of one slice of the generated set.</summary>
/// <param name="Label">True period ("24", "168", "none"), noise level or missing rate.</param>
/// <param name="Correct">Series whose detected periods match exactly.</param>
/// <param name="Total">Series in the slice.</param>
public readonly record struct AccuracySlice(string Label, int Correct, int Total)
{
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;
}

/// <summary>M4 figures: share of series per detected season and status.</summary>
/// <param name="HourlySeries">Series in Hourly-train.csv.</param>
/// <param name="HourlyWith24Or168">Hourly series whose primary or secondary period is 24 or 168.</param>
/// <param name="WeeklySeries">Series in Weekly-train.csv.</param>
/// <param name="WeeklyPeriodic">Weekly series found periodic.</param>
/// <param name="WeeklyWith52">Weekly series with primary or secondary period 51 to 53.</param>
/// <param name="SeriesPerSecond">Detection + features + assignment throughput on the Hourly series.</param>
/// <param name="HourlyPeriods">Detected (primary/secondary) pairs on Hourly with their counts, most frequent first.</param>
public sealed record M4PeriodFigures(
    int HourlySeries, int HourlyWith24Or168, int WeeklySeries, int WeeklyPeriodic, int WeeklyWith52,
    double SeriesPerSecond, IReadOnlyList<KeyValuePair<string, int>> HourlyPeriods)
{
    public double HourlyShare => HourlySeries == 0 ? 0 : (double)HourlyWith24Or168 / HourlySeries;
}

/// <summary>Outcome of <see cref="PeriodBenchmark.Run"/>.</summary>
public sealed record PeriodBenchmarkResult(
    double Accuracy,
    double AperiodicAccuracy,
    double SeriesPerSecond,
    int GeneratedSeries,
    IReadOnlyList<AccuracySlice> PerPeriod,
    IReadOnlyList<AccuracySlice> PerNoise,
    IReadOnlyList<AccuracySlice> PerMissing,
    IReadOnlyList<string> Misses,
    M4PeriodFigures? M4);

/// <summary>
/// `anomalymeta bench period`: detection accuracy on generated series with known periods at several noise levels
/// and missing rates, and the throughput of detection + feature extraction + cluster assignment.
/// </summary>
public static class PeriodBenchmark
{
    /// <summary>True periods of the generated set; 168 is a daily profile modulated by weekdays (expects 24 and 168).</summary>
    public static readonly int[] TruePeriods = [24, 168, 7, 12, 52, 288, 0];

    /// <summary>Noise standard deviations relative to the seasonal standard deviation.</summary>
    public static readonly float[] NoiseLevels = [0.25f, 0.5f, 1.0f];

    /// <summary>Shares of missing points.</summary>
    public static readonly float[] MissingRates = [0f, 0.1f, 0.25f];

    /// <summary>Runs the benchmark; <paramref name="m4Directory"/> adds the M4 Hourly and Weekly figures.</summary>
    public static PeriodBenchmarkResult Run(int seriesPerCell, int seed, string? m4Directory)
    {
        var random = new Random(seed);
        var series = new List<float[]>();
        var expected = new List<(int Primary, int Secondary, int Period, int Noise, int Missing)>();
        for (int p = 0; p < TruePeriods.Length; p++)
        {
            for (int noise = 0; noise < NoiseLevels.Length; noise++)
            {
                for (int missing = 0; missing < MissingRates.Length; missing++)
                {
                    for (int i = 0; i < seriesPerCell; i++)
                    {
                        SyntheticSpec spec = SpecFor(TruePeriods[p], NoiseLevels[noise], MissingRates[missing], i % 2 == 1, random);
                        series.Add(SyntheticSeries.Generate(spec, random));
                        expected.Add((spec.Period, spec.SecondaryPeriod, p, noise, missing));
                    }
                }
            }
        }

        var detector = new PeriodDetector(new PeriodDetectorOptions());
        var estimates = new PeriodEstimate[series.Count];
        for (int i = 0; i < series.Count; i++)
        {
            estimates[i] = detector.Detect(series[i]);
        }

        var perPeriod = new int[TruePeriods.Length, 2];
        var perNoise = new int[NoiseLevels.Length, 2];
        var perMissing = new int[MissingRates.Length, 2];
        var misses = new List<string>();
        for (int i = 0; i < series.Count; i++)
        {
            var e = expected[i];
            PeriodEstimate found = estimates[i];
            bool correct = e.Primary == 0
                ? found.Status != PeriodStatus.Periodic
                : found.PrimaryPeriod == e.Primary && found.SecondaryPeriod == e.Secondary;
            int hit = correct ? 1 : 0;
            if (!correct)
            {
                misses.Add(FormattableString.Invariant(
                    $"true {e.Primary}/{e.Secondary} noise {NoiseLevels[e.Noise]} missing {MissingRates[e.Missing]} length {series[i].Length}: found {found.PrimaryPeriod}/{found.SecondaryPeriod} ({found.Status}, strength {found.Strength:F2})"));
            }

            perPeriod[e.Period, 0] += hit;
            perPeriod[e.Period, 1]++;
            if (e.Primary > 0)
            {
                perNoise[e.Noise, 0] += hit;
                perNoise[e.Noise, 1]++;
                perMissing[e.Missing, 0] += hit;
                perMissing[e.Missing, 1]++;
            }
        }

        int periodicCorrect = 0;
        int periodicTotal = 0;
        var periodSlices = new List<AccuracySlice>();
        for (int p = 0; p < TruePeriods.Length; p++)
        {
            periodSlices.Add(new AccuracySlice(TruePeriods[p] == 0 ? "none" : TruePeriods[p].ToString(System.Globalization.CultureInfo.InvariantCulture), perPeriod[p, 0], perPeriod[p, 1]));
            if (TruePeriods[p] > 0)
            {
                periodicCorrect += perPeriod[p, 0];
                periodicTotal += perPeriod[p, 1];
            }
        }

        int none = Array.IndexOf(TruePeriods, 0);
        double seriesPerSecond = MeasureThroughput(series, 2000);
        return new PeriodBenchmarkResult(
            (double)periodicCorrect / periodicTotal,
            perPeriod[none, 1] == 0 ? 0 : (double)perPeriod[none, 0] / perPeriod[none, 1],
            seriesPerSecond,
            series.Count,
            periodSlices,
            Slices(perNoise, NoiseLevels, "noise "),
            Slices(perMissing, MissingRates, "missing "),
            misses,
            m4Directory is null ? null : RunM4(m4Directory));
    }

    /// <summary>Lengths follow the sampling each period usually comes with (a month of hours, years of months...).</summary>
    private static SyntheticSpec SpecFor(int period, float noise, float missing, bool disturbed, Random random)
    {
        return period switch
        {
            24 => new SyntheticSpec(24 * random.Next(14, 43), 24, 0, noise, missing, disturbed),
            168 => new SyntheticSpec(168 * random.Next(4, 9), 24, 168, noise, missing, disturbed),
            7 => new SyntheticSpec(7 * random.Next(12, 80), 7, 0, noise, missing, disturbed),
            12 => new SyntheticSpec(12 * random.Next(8, 21), 12, 0, noise, missing, disturbed),
            52 => new SyntheticSpec(52 * random.Next(4, 9), 52, 0, noise, missing, disturbed),
            288 => new SyntheticSpec(288 * random.Next(4, 9), 288, 0, noise, missing, disturbed),
            _ => new SyntheticSpec(random.Next(60, 1500), 0, 0, noise, missing, disturbed),
        };
    }

    private static List<AccuracySlice> Slices(int[,] counts, float[] labels, string prefix)
    {
        var slices = new List<AccuracySlice>();
        for (int i = 0; i < labels.Length; i++)
        {
            slices.Add(new AccuracySlice(prefix + labels[i].ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), counts[i, 0], counts[i, 1]));
        }

        return slices;
    }

    private static double MeasureThroughput(List<float[]> series, int minimumSeries)
    {
        int rounds = Math.Max(1, (minimumSeries + series.Count - 1) / series.Count);
        int total = rounds * series.Count;
        var stopwatch = Stopwatch.StartNew();
        Parallel.For(
            0,
            total,
            () => new PeriodDetector(new PeriodDetectorOptions()),
            (i, _, detector) =>
            {
                detector.Detect(series[i % series.Count]);
                return detector;
            },
            _ => { });
        return total / stopwatch.Elapsed.TotalSeconds;
    }

    private static M4PeriodFigures RunM4(string directory)
    {
        IReadOnlyList<M4Series> hourly = M4File.Read(Path.Combine(directory, "Hourly-train.csv"));
        IReadOnlyList<M4Series> weekly = M4File.Read(Path.Combine(directory, "Weekly-train.csv"));
        var detector = new PeriodDetector(new PeriodDetectorOptions());
        int with24Or168 = 0;
        var pairs = new Dictionary<string, int>();
        foreach (M4Series s in hourly)
        {
            PeriodEstimate e = detector.Detect(s.Values);
            if (e.PrimaryPeriod is 24 or 168 || e.SecondaryPeriod is 24 or 168)
            {
                with24Or168++;
            }

            string key = $"{e.PrimaryPeriod}/{e.SecondaryPeriod}";
            pairs[key] = pairs.GetValueOrDefault(key) + 1;
        }

        int weeklyPeriodic = 0;
        int weekly52 = 0;
        foreach (M4Series s in weekly)
        {
            PeriodEstimate e = detector.Detect(s.Values);
            if (e.Status == PeriodStatus.Periodic)
            {
                weeklyPeriodic++;
            }

            if (e.PrimaryPeriod is >= 51 and <= 53 || e.SecondaryPeriod is >= 51 and <= 53)
            {
                weekly52++;
            }
        }

        var hourlySeries = new List<float[]>(hourly.Count);
        foreach (M4Series s in hourly)
        {
            hourlySeries.Add(s.Values);
        }

        var sorted = pairs.ToList();
        sorted.Sort((a, b) => b.Value.CompareTo(a.Value));
        return new M4PeriodFigures(
            hourly.Count, with24Or168, weekly.Count, weeklyPeriodic, weekly52, MeasureThroughput(hourlySeries, 2000), sorted);
    }
}
