using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Storage.Tests.Infrastructure;

/// <summary>Series keys unique to one test (the collection shares a database) and seeded day values.</summary>
internal static class TestData
{
    public static List<SeriesRegistration> Series(string prefix, int count, int stepSeconds = 3600)
    {
        var unique = prefix + "-" + Guid.NewGuid().ToString("N")[..8];
        var series = new List<SeriesRegistration>(count);
        for (var i = 0; i < count; i++)
        {
            series.Add(new SeriesRegistration($"{unique}/{i:D6}", stepSeconds, new Dictionary<string, string> { ["i"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
        }

        return series;
    }

    /// <summary>A day of points that depends only on (series, day, seed): tests can recompute what they wrote.</summary>
    public static float[] Day(int seriesId, DateOnly day, int pointsPerDay, int seed = 7)
    {
        // Not HashCode.Combine: it is randomised per process, and the data must not change between runs.
        var random = new Random(unchecked((seriesId * 1_000_003) + (day.DayNumber * 31) + seed) & int.MaxValue);
        var points = new float[pointsPerDay];
        for (var i = 0; i < points.Length; i++)
        {
            points[i] = (float)(100 + (10 * Math.Sin(2 * Math.PI * i / pointsPerDay)) + random.NextDouble());
        }

        return points;
    }
}
