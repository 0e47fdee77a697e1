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
}
