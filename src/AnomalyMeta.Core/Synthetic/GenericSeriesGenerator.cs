namespace AnomalyMeta.Core.Synthetic;

/// <summary>
/// Series of the shapes operations data takes, for the generic meta-learner of a sampling step (the model a series
/// uses before its cluster has one of its own): daily and weekly seasons from <see cref="SyntheticSeriesGenerator"/>,
/// random walks, mean-reverting noise with level shifts, and spiky counts. Series i depends only on (seed, i).
/// </summary>
public sealed class GenericSeriesGenerator(int pointsPerDay, int days, int seed)
{
    public float[] Generate(int index)
    {
        var random = new Random(unchecked((seed * 1_000_003) ^ (index * 7_919) ^ 0x6e6e));
        int length = pointsPerDay * days;
        switch (index % 4)
        {
            case 0:
                var fleet = new SyntheticSeriesGenerator(new SyntheticFleetOptions
                {
                    SeriesCount = 1,
                    HistoryDays = days - 1,
                    PointsPerDay = pointsPerDay,
                    Seed = seed + index,
                    AnomalousSeriesFraction = 0,
                });
                var values = fleet.Generate(0).Values;
                // The generator leaves gaps (NaN): training windows must be gap-free, as scoring fills them.
                Series.WindowRepair.FillGaps(values);
                return values;
            case 1:
                return RandomWalk(random, length);
            case 2:
                return MeanReverting(random, length);
            default:
                return Counts(random, length);
        }
    }

    private static float[] RandomWalk(Random random, int length)
    {
        var values = new float[length];
        double level = 100 * random.NextDouble();
        double step = 0.1 + random.NextDouble();
        double noise = step * 2 * random.NextDouble();
        for (int t = 0; t < length; t++)
        {
            level += step * SyntheticSeriesGenerator.Normal(random);
            values[t] = (float)(level + (noise * SyntheticSeriesGenerator.Normal(random)));
        }
        return values;
    }

    private static float[] MeanReverting(Random random, int length)
    {
        var values = new float[length];
        double phi = 0.3 + (0.69 * random.NextDouble());
        double mean = 50 * random.NextDouble();
        double x = 0;
        for (int t = 0; t < length; t++)
        {
            if (random.NextDouble() < 0.002)
            {
                mean += 5 * SyntheticSeriesGenerator.Normal(random);
            }
            x = (phi * x) + SyntheticSeriesGenerator.Normal(random);
            values[t] = (float)(mean + x);
        }
        return values;
    }

    private static float[] Counts(Random random, int length)
    {
        var values = new float[length];
        double rate = 1 + (30 * random.NextDouble());
        for (int t = 0; t < length; t++)
        {
            // Gamma-like bursts over a Poisson-like floor: the spiky volume series of social and ad data.
            double burst = random.NextDouble() < 0.03 ? rate * 3 * random.NextDouble() : 0;
            values[t] = (float)Math.Max(0, Math.Round(rate + burst + (Math.Sqrt(rate) * SyntheticSeriesGenerator.Normal(random))));
        }
        return values;
    }
}
