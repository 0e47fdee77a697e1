using AnomalyMeta.Periodicity.Synthetic;

namespace AnomalyMeta.Periodicity.Tests;

/// <summary>Generated series from fixed seeds.</summary>
internal static class SeriesFactory
{
    public static float[] Seasonal(int seed, int length, int period, int secondary = 0, float noise = 0.3f, float missing = 0f, bool disturbed = false) =>
        SyntheticSeries.Generate(new SyntheticSpec(length, period, secondary, noise, missing, disturbed), new Random(seed));

    public static float[] WhiteNoise(int seed, int length)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int t = 0; t < length; t++)
        {
            values[t] = SyntheticSeries.Gaussian(random);
        }

        return values;
    }

    public static float[] RandomWalk(int seed, int length)
    {
        var random = new Random(seed);
        var values = new float[length];
        float level = 0f;
        for (int t = 0; t < length; t++)
        {
            level += SyntheticSeries.Gaussian(random);
            values[t] = level;
        }

        return values;
    }

    /// <summary>
    /// A daily cycle whose phase jumps every three days for the first 55% of the series (a shift schedule that kept
    /// changing), then settles: periodic now, smeared as a whole.
    /// </summary>
    /// <param name="weekend">Halve the cycle on two days in seven, a weekly pattern on top of the daily one.</param>
    public static float[] SettledAfterPhaseJumps(int seed, int length, int period, bool weekend = false)
    {
        var random = new Random(seed);
        var values = new float[length];
        double phase = 0;
        for (int t = 0; t < length; t++)
        {
            phase += 2 * Math.PI / period;
            if (t < 0.55 * length && t % (3 * period) == 0)
            {
                phase += 2 * Math.PI * random.NextDouble();
            }

            double amplitude = weekend && (t / period) % 7 >= 5 ? 0.5 : 1.0;
            values[t] = (float)(amplitude * Math.Sin(phase)) + (0.3f * SyntheticSeries.Gaussian(random));
        }

        return values;
    }
}
