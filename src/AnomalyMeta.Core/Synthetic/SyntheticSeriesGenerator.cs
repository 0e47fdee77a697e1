namespace AnomalyMeta.Core.Synthetic;

/// <summary>Settings of the generated fleet. Everything is reproducible from <see cref="Seed"/>.</summary>
public sealed record SyntheticFleetOptions
{
    public int SeriesCount { get; init; } = 10_000;
    /// <summary>Days of history before the scoring day.</summary>
    public int HistoryDays { get; init; } = 28;
    public int PointsPerDay { get; init; } = 24;
    public int Seed { get; init; } = 42;
    /// <summary>The day the nightly job scores: the last generated day.</summary>
    public DateOnly ScoringDay { get; init; } = new(2026, 11, 22);
    /// <summary>Share of series with one anomaly event on the scoring day.</summary>
    public double AnomalousSeriesFraction { get; init; } = 0.25;
    /// <summary>Chance that a history day of a series holds a spike (history is not clean in real fleets).</summary>
    public double HistorySpikeRate { get; init; } = 0.01;

    public int TotalDays => HistoryDays + 1;
    public DateOnly FirstDay => ScoringDay.AddDays(-HistoryDays);
}

/// <summary>
/// Generates realistic hourly series: daily and weekly seasonality, trend, noise levels, missing points and
/// injected anomalies of several kinds with point-level ground truth. Series i depends only on (seed, i), so a
/// fleet of millions can be generated batch by batch.
/// </summary>
public sealed class SyntheticSeriesGenerator(SyntheticFleetOptions options)
{
    private static readonly double[] MissingRates = [0.0, 0.0, 0.01, 0.03];

    public SyntheticFleetOptions Options { get; } = options;

    /// <summary>Generates series <paramref name="index"/> of the fleet.</summary>
    public SyntheticSeries Generate(int index)
    {
        // Not HashCode.Combine: its seed changes per process, and series must be the same in every run.
        var random = new Random(unchecked((Options.Seed * 1_000_003) ^ (index * 7_919) ^ 0x5eed));
        int perDay = Options.PointsPerDay;
        int length = Options.TotalDays * perDay;
        var family = (SeriesFamily)random.Next(4);
        double level = Math.Exp(Uniform(random, Math.Log(10), Math.Log(10_000)));
        double noise = level * Uniform(random, 0.02, 0.08);
        double trendPerPoint = level * Uniform(random, -0.2, 0.2) / length;
        double amplitude = level * Uniform(random, 0.2, 0.6);
        double phase = Uniform(random, 0, 2 * Math.PI);
        double harmonic = Uniform(random, 0, 0.3);
        double weekendFactor = Uniform(random, 0.5, 0.8);
        int openHour = random.Next(6, 10) * perDay / 24;
        int closeHour = random.Next(16, 20) * perDay / 24;
        // Day index of the first day relative to the epoch, so weekdays and phases are real calendar ones.
        int firstDayNumber = Options.FirstDay.DayNumber;

        var values = new float[length];
        double walk = 0;
        for (int t = 0; t < length; t++)
        {
            int day = t / perDay;
            int slot = t % perDay;
            var weekday = new DateOnly(1, 1, 1).AddDays(firstDayNumber + day).DayOfWeek;
            bool weekend = weekday is DayOfWeek.Saturday or DayOfWeek.Sunday;
            double angle = 2 * Math.PI * slot / perDay + phase;
            double seasonal = family switch
            {
                SeriesFamily.Daily => amplitude * (Math.Sin(angle) + harmonic * Math.Sin(2 * angle)),
                SeriesFamily.DailyWeekly => amplitude * (Math.Sin(angle) + harmonic * Math.Sin(2 * angle)) * (weekend ? weekendFactor : 1)
                    - (weekend ? (1 - weekendFactor) * level * 0.5 : 0),
                SeriesFamily.BusinessHours => !weekend && slot >= openHour && slot < closeHour ? amplitude * 1.5 : -amplitude * 0.3,
                _ => 0,
            };
            if (family == SeriesFamily.Aperiodic)
            {
                walk += Normal(random) * noise * 0.3;
            }
            values[t] = (float)(level + trendPerPoint * t + seasonal + walk + Normal(random) * noise);
        }

        var anomalous = new bool[length];
        InjectHistorySpikes(random, values, anomalous, noise);
        AnomalyKind? kind = random.NextDouble() < Options.AnomalousSeriesFraction
            ? InjectScoringDayAnomaly(random, values, anomalous, noise)
            : null;
        DropPoints(random, values, anomalous);

        (int primary, int secondary) = family switch
        {
            SeriesFamily.Daily => (perDay, 0),
            SeriesFamily.DailyWeekly or SeriesFamily.BusinessHours => (perDay, 7 * perDay),
            _ => (0, 0),
        };
        return new SyntheticSeries($"synthetic-{index:D7}", family, primary, secondary, values, anomalous, kind);
    }

    private void InjectHistorySpikes(Random random, float[] values, bool[] anomalous, double noise)
    {
        int perDay = Options.PointsPerDay;
        for (int day = 0; day < Options.HistoryDays; day++)
        {
            if (random.NextDouble() < Options.HistorySpikeRate)
            {
                int t = day * perDay + random.Next(perDay);
                values[t] += (float)(Sign(random) * Uniform(random, 6, 12) * noise);
                anomalous[t] = true;
            }
        }
    }

    private AnomalyKind InjectScoringDayAnomaly(Random random, float[] values, bool[] anomalous, double noise)
    {
        int perDay = Options.PointsPerDay;
        int dayStart = Options.HistoryDays * perDay;
        var kind = (AnomalyKind)random.Next(4);
        int start = dayStart + random.Next(perDay - 3);
        double size = Sign(random) * Uniform(random, 6, 12) * noise;
        int end = kind switch
        {
            AnomalyKind.Spike => start + 1,
            AnomalyKind.Burst => start + random.Next(2, 4),
            AnomalyKind.LevelShift => dayStart + perDay,
            _ => start + random.Next(2, 5),
        };
        for (int t = start; t < end; t++)
        {
            values[t] = kind == AnomalyKind.Dropout ? 0f : values[t] + (float)size;
            anomalous[t] = true;
        }
        return kind;
    }

    // Anomalous points are never dropped: ground truth must be visible to be detectable.
    private static void DropPoints(Random random, float[] values, bool[] anomalous)
    {
        double rate = MissingRates[random.Next(MissingRates.Length)];
        if (rate == 0)
        {
            return;
        }
        for (int t = 0; t < values.Length; t++)
        {
            if (random.NextDouble() < rate && !anomalous[t])
            {
                values[t] = float.NaN;
            }
        }
    }

    private static double Uniform(Random random, double low, double high) => low + (high - low) * random.NextDouble();

    private static int Sign(Random random) => random.Next(2) == 0 ? -1 : 1;

    /// <summary>One standard normal draw (Box-Muller), for every generator of the project.</summary>
    public static double Normal(Random random)
    {
        double u = 1.0 - random.NextDouble();
        double v = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2 * Math.PI * v);
    }
}
