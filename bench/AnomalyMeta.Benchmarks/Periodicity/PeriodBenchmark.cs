using AnomalyMeta.Periodicity;
using System.Diagnostics;
using System.Globalization;
using AnomalyMeta.Periodicity.Synthetic;

namespace AnomalyMeta.Benchmarks;

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
/// <param name="HourlyWith24Or168WholeSeriesOnly">The same count without the second look at the recent half.</param>
/// <param name="WeeklySeries">Series in Weekly-train.csv.</param>
/// <param name="WeeklyPeriodic">Weekly series found periodic.</param>
/// <param name="WeeklyPeriodicWholeSeriesOnly">The same count without the second look at the recent half.</param>
/// <param name="WeeklyWith52">Weekly series with primary or secondary period 51 to 53.</param>
/// <param name="Throughput">Detection + features + assignment throughput on the Hourly series.</param>
/// <param name="HourlyPeriods">Detected (primary/secondary) pairs on Hourly with their counts, most frequent first.</param>
/// <param name="WeeklyPeriods">Detected (primary/secondary) pairs on Weekly with their counts, most frequent first.</param>
public sealed record M4PeriodFigures(
    int HourlySeries, int HourlyWith24Or168, int HourlyWith24Or168WholeSeriesOnly,
    int WeeklySeries, int WeeklyPeriodic, int WeeklyPeriodicWholeSeriesOnly, int WeeklyWith52,
    Throughput Throughput, IReadOnlyList<KeyValuePair<string, int>> HourlyPeriods, IReadOnlyList<KeyValuePair<string, int>> WeeklyPeriods)
{
    public double HourlyShare => HourlySeries == 0 ? 0 : (double)HourlyWith24Or168 / HourlySeries;
}

/// <summary>Throughput of detection + feature extraction + cluster assignment.</summary>
/// <param name="Series">Series processed.</param>
/// <param name="SeriesPerSecond">Wall-clock rate with all cores.</param>
/// <param name="SeriesPerCpuSecond">Rate per second of CPU time used by the process (shows the cost when the machine is shared).</param>
/// <param name="Threads">Worker threads.</param>
/// <param name="MeanLength">Mean series length.</param>
public readonly record struct Throughput(int Series, double SeriesPerSecond, double SeriesPerCpuSecond, int Threads, double MeanLength);

/// <summary>Share of aperiodic noise series reported periodic, by the whole-series test alone and with the second look.</summary>
/// <param name="Series">Noise series generated (random walks under white noise, pure random walks, AR(1) 0.95).</param>
/// <param name="WholeSeriesOnly">Share periodic with <see cref="PeriodDetectorOptions.RecentRegimeMinCycles"/> = 0.</param>
/// <param name="WithRecentLook">Share periodic with the default second look at the recent half.</param>
public readonly record struct FalsePeriods(int Series, double WholeSeriesOnly, double WithRecentLook);

/// <summary>Outcome of <see cref="PeriodBenchmark.Run"/>.</summary>
public sealed record PeriodBenchmarkResult(
    double Accuracy,
    double AperiodicAccuracy,
    double AccuracyWithoutCalendar,
    double AperiodicAccuracyWithoutCalendar,
    Throughput Throughput,
    int GeneratedSeries,
    IReadOnlyList<AccuracySlice> PerPeriod,
    IReadOnlyList<AccuracySlice> PerNoise,
    IReadOnlyList<AccuracySlice> PerMissing,
    IReadOnlyList<string> Misses,
    FalsePeriods NoiseFalsePeriods,
    M4PeriodFigures? M4)
{
    /// <summary>
    /// Detection + features + assignment on the demo fleet's series (22 days of hourly history, as `bench scale`
    /// clusters them): the CPU side of the clustering's profile phase, without PostgreSQL.
    /// </summary>
    public Throughput FleetThroughput { get; init; }
}

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
    public static PeriodBenchmarkResult Run(int seriesPerCell, int seed, int throughputSeries, string? m4Directory)
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

        var withCalendar = Score(series, expected, new PeriodDetectorOptions(), collectMisses: true);
        var withoutCalendar = Score(series, expected, new PeriodDetectorOptions { PreferredPeriods = [] }, collectMisses: false);
        ClusterModel model = FitModel(series);
        return new PeriodBenchmarkResult(
            withCalendar.Accuracy,
            withCalendar.AperiodicAccuracy,
            withoutCalendar.Accuracy,
            withoutCalendar.AperiodicAccuracy,
            MeasureThroughput(series, model, throughputSeries),
            series.Count,
            withCalendar.PerPeriod,
            withCalendar.PerNoise,
            withCalendar.PerMissing,
            withCalendar.Misses,
            MeasureFalsePeriods(seed),
            m4Directory is null ? null : RunM4(m4Directory, throughputSeries))
        {
            FleetThroughput = MeasureFleetThroughput(throughputSeries),
        };
    }

    /// <summary>The demo fleet's series as the clustering reads them: 22 days of hourly history, 20,000 distinct series.</summary>
    private static Throughput MeasureFleetThroughput(int minimumSeries)
    {
        var options = new AnomalyMeta.Core.Synthetic.SyntheticFleetOptions { SeriesCount = 20_000, HistoryDays = 22, Seed = 42 };
        var generator = new AnomalyMeta.Core.Synthetic.SyntheticSeriesGenerator(options);
        int history = options.HistoryDays * options.PointsPerDay;
        var fleet = new List<float[]>(options.SeriesCount);
        for (int i = 0; i < options.SeriesCount; i++)
        {
            fleet.Add(generator.Generate(i).Values[..history]);
        }

        return MeasureThroughput(fleet, FitModel(fleet), minimumSeries);
    }

    /// <summary>
    /// The second look at a recent half must not invent periods in noise: random walks fake long "periods" of a few
    /// cycles in half a series, and short ones of many in short halves. 500 series per kind and length, from short
    /// weekly-like series to long hourly ones.
    /// </summary>
    private static FalsePeriods MeasureFalsePeriods(int seed)
    {
        var withLook = new PeriodDetector(new PeriodDetectorOptions());
        var wholeOnly = new PeriodDetector(new PeriodDetectorOptions { RecentRegimeMinCycles = 0 });
        var random = new Random(seed + 17);
        int series = 0;
        int falseWhole = 0;
        int falseWithLook = 0;
        foreach (int length in (int[])[80, 120, 200, 672, 960, 2000])
        {
            for (int kind = 0; kind < 3; kind++)
            {
                for (int i = 0; i < 500; i++)
                {
                    float[] values = Noise(kind, length, random);
                    series++;
                    falseWhole += wholeOnly.Detect(values).Status == PeriodStatus.Periodic ? 1 : 0;
                    falseWithLook += withLook.Detect(values).Status == PeriodStatus.Periodic ? 1 : 0;
                }
            }
        }

        return new FalsePeriods(series, (double)falseWhole / series, (double)falseWithLook / series);
    }

    /// <summary>Kind 0: random walk (steps 0.3) under unit white noise, the demo's aperiodic family; 1: random walk; 2: AR(1) 0.95.</summary>
    private static float[] Noise(int kind, int length, Random random)
    {
        var values = new float[length];
        double state = 0;
        for (int t = 0; t < length; t++)
        {
            double e = SyntheticSeries.Gaussian(random);
            state = kind switch
            {
                0 => state + (0.3 * e),
                1 => state + e,
                _ => (0.95 * state) + e,
            };
            values[t] = (float)state + (kind == 0 ? SyntheticSeries.Gaussian(random) : 0f);
        }

        return values;
    }

    private sealed record Scores(
        double Accuracy, double AperiodicAccuracy, List<AccuracySlice> PerPeriod, List<AccuracySlice> PerNoise,
        List<AccuracySlice> PerMissing, List<string> Misses);

    private static Scores Score(
        List<float[]> series, List<(int Primary, int Secondary, int Period, int Noise, int Missing)> expected,
        PeriodDetectorOptions options, bool collectMisses)
    {
        var detector = new PeriodDetector(options);
        var perPeriod = new int[TruePeriods.Length, 2];
        var perNoise = new int[NoiseLevels.Length, 2];
        var perMissing = new int[MissingRates.Length, 2];
        var misses = new List<string>();
        for (int i = 0; i < series.Count; i++)
        {
            var e = expected[i];
            PeriodEstimate found = detector.Detect(series[i]);
            // Exact match of both periods; an aperiodic series is right when no period is reported.
            bool correct = e.Primary == 0
                ? found.Status != PeriodStatus.Periodic
                : found.PrimaryPeriod == e.Primary && found.SecondaryPeriod == e.Secondary;
            int hit = correct ? 1 : 0;
            if (!correct && collectMisses)
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
            string label = TruePeriods[p] switch
            {
                0 => "none",
                168 => "24/168",
                _ => TruePeriods[p].ToString(CultureInfo.InvariantCulture),
            };
            periodSlices.Add(new AccuracySlice(label, perPeriod[p, 0], perPeriod[p, 1]));
            if (TruePeriods[p] > 0)
            {
                periodicCorrect += perPeriod[p, 0];
                periodicTotal += perPeriod[p, 1];
            }
        }

        int none = Array.IndexOf(TruePeriods, 0);
        return new Scores(
            (double)periodicCorrect / periodicTotal,
            perPeriod[none, 1] == 0 ? 0 : (double)perPeriod[none, 0] / perPeriod[none, 1],
            periodSlices,
            Slices(perNoise, NoiseLevels, "noise "),
            Slices(perMissing, MissingRates, "missing "),
            misses);
    }

    /// <summary>The model the throughput run assigns to (fitted once, not timed).</summary>
    private static ClusterModel FitModel(List<float[]> series)
    {
        var detector = new PeriodDetector(new PeriodDetectorOptions());
        var profiles = new List<SeriesProfile>(series.Count);
        foreach (float[] values in series)
        {
            profiles.Add(SeriesProfile.Create(values, detector));
        }

        return new PeriodicityClusterer().Fit(profiles, new ClusteringOptions { MinClusterSize = 20 });
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
            slices.Add(new AccuracySlice(prefix + labels[i].ToString("0.##", CultureInfo.InvariantCulture), counts[i, 0], counts[i, 1]));
        }

        return slices;
    }

    /// <summary>
    /// Detection + features + assignment over at least <paramref name="minimumSeries"/> series (the set repeated),
    /// one detector per worker thread and no allocation per series.
    /// </summary>
    private static Throughput MeasureThroughput(List<float[]> series, ClusterModel model, int minimumSeries)
    {
        int rounds = Math.Max(1, (minimumSeries + series.Count - 1) / series.Count);
        int total = rounds * series.Count;
        long points = 0;
        foreach (float[] values in series)
        {
            points += values.Length;
        }

        int threads = Environment.ProcessorCount;
        using var process = Process.GetCurrentProcess();
        TimeSpan cpuBefore = process.TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        long checksum = 0;
        Parallel.For(
            0,
            total,
            new ParallelOptions { MaxDegreeOfParallelism = threads },
            () => new Worker(),
            (i, _, worker) =>
            {
                float[] values = series[i % series.Count];
                PeriodEstimate period = worker.Detector.DetectWithFeatures(values, worker.Features);
                worker.Checksum += model.Assign(new SeriesProfile(period, worker.Features));
                return worker;
            },
            worker => Interlocked.Add(ref checksum, worker.Checksum));
        double seconds = stopwatch.Elapsed.TotalSeconds;
        process.Refresh();
        double cpuSeconds = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        GC.KeepAlive(checksum);
        return new Throughput(total, total / seconds, total / cpuSeconds, threads, (double)points / series.Count);
    }

    private sealed class Worker
    {
        public PeriodDetector Detector { get; } = new(new PeriodDetectorOptions());

        public float[] Features { get; } = new float[SeriesFeatures.Count];

        public long Checksum { get; set; }
    }

    private static M4PeriodFigures RunM4(string directory, int throughputSeries)
    {
        IReadOnlyList<M4Series> hourly = M4File.Read(Path.Combine(directory, "Hourly-train.csv"));
        IReadOnlyList<M4Series> weekly = M4File.Read(Path.Combine(directory, "Weekly-train.csv"));
        var detector = new PeriodDetector(new PeriodDetectorOptions());
        var wholeSeriesOnly = new PeriodDetector(new PeriodDetectorOptions { RecentRegimeMinCycles = 0 });
        int with24Or168 = 0;
        int with24Or168WholeSeriesOnly = 0;
        var hourlyPairs = new Dictionary<string, int>();
        var hourlySeries = new List<float[]>(hourly.Count);
        var profiles = new List<SeriesProfile>(hourly.Count);
        foreach (M4Series s in hourly)
        {
            SeriesProfile profile = SeriesProfile.Create(s.Values, detector);
            PeriodEstimate e = profile.Period;
            with24Or168 += IsDailyOrWeekly(e) ? 1 : 0;
            with24Or168WholeSeriesOnly += IsDailyOrWeekly(wholeSeriesOnly.Detect(s.Values)) ? 1 : 0;

            Count(hourlyPairs, e);
            hourlySeries.Add(s.Values);
            profiles.Add(profile);
        }

        int weeklyPeriodic = 0;
        int weeklyPeriodicWholeSeriesOnly = 0;
        int weekly52 = 0;
        var weeklyPairs = new Dictionary<string, int>();
        foreach (M4Series s in weekly)
        {
            PeriodEstimate e = detector.Detect(s.Values);
            weeklyPeriodic += e.Status == PeriodStatus.Periodic ? 1 : 0;
            weeklyPeriodicWholeSeriesOnly += wholeSeriesOnly.Detect(s.Values).Status == PeriodStatus.Periodic ? 1 : 0;

            if (e.PrimaryPeriod is >= 51 and <= 53 || e.SecondaryPeriod is >= 51 and <= 53)
            {
                weekly52++;
            }

            Count(weeklyPairs, e);
        }

        ClusterModel model = new PeriodicityClusterer().Fit(profiles, new ClusteringOptions { MinClusterSize = 20 });
        return new M4PeriodFigures(
            hourly.Count, with24Or168, with24Or168WholeSeriesOnly,
            weekly.Count, weeklyPeriodic, weeklyPeriodicWholeSeriesOnly, weekly52,
            MeasureThroughput(hourlySeries, model, throughputSeries), Sorted(hourlyPairs), Sorted(weeklyPairs));
    }

    private static bool IsDailyOrWeekly(PeriodEstimate e) =>
        e.PrimaryPeriod is 24 or 168 || e.SecondaryPeriod is 24 or 168;

    private static void Count(Dictionary<string, int> pairs, PeriodEstimate e)
    {
        string key = e.Status == PeriodStatus.Periodic
            ? FormattableString.Invariant($"{e.PrimaryPeriod}/{e.SecondaryPeriod}")
            : e.Status.ToString();
        pairs[key] = pairs.GetValueOrDefault(key) + 1;
    }

    private static List<KeyValuePair<string, int>> Sorted(Dictionary<string, int> pairs)
    {
        var sorted = new List<KeyValuePair<string, int>>(pairs);
        sorted.Sort((a, b) => b.Value != a.Value ? b.Value.CompareTo(a.Value) : string.CompareOrdinal(a.Key, b.Key));
        return sorted;
    }
}
