using AnomalyMeta.Core.Synthetic;

namespace AnomalyMeta.Core.Tests;

public sealed class SyntheticSeriesGeneratorTests
{
    private static readonly SyntheticFleetOptions Options = new() { SeriesCount = 400, Seed = 7 };

    [Fact]
    public void The_same_seed_gives_the_same_series()
    {
        var first = new SyntheticSeriesGenerator(Options).Generate(123);
        var second = new SyntheticSeriesGenerator(Options).Generate(123);

        Assert.Equal(first.Values, second.Values);
        Assert.Equal(first.Anomalous, second.Anomalous);
        Assert.NotEqual(first.Values, new SyntheticSeriesGenerator(Options with { Seed = 8 }).Generate(123).Values);
    }

    [Fact]
    public void A_fleet_holds_every_family_and_about_the_asked_share_of_anomalous_series()
    {
        var generator = new SyntheticSeriesGenerator(Options);
        var families = new HashSet<SeriesFamily>();
        int anomalousSeries = 0;
        for (int i = 0; i < Options.SeriesCount; i++)
        {
            var series = generator.Generate(i);
            families.Add(series.Family);
            Assert.Equal(Options.TotalDays * Options.PointsPerDay, series.Values.Length);
            if (series.ScoringDayAnomaly is not null)
            {
                anomalousSeries++;
                int scoringDayStart = Options.HistoryDays * Options.PointsPerDay;
                Assert.Contains(true, series.Anomalous.AsSpan(scoringDayStart).ToArray());
            }
        }

        Assert.Equal(4, families.Count);
        Assert.InRange(anomalousSeries / (double)Options.SeriesCount, 0.18, 0.32);
    }

    [Fact]
    public void Anomalous_points_are_never_missing()
    {
        var generator = new SyntheticSeriesGenerator(Options);
        for (int i = 0; i < 200; i++)
        {
            var series = generator.Generate(i);
            for (int t = 0; t < series.Values.Length; t++)
            {
                Assert.False(series.Anomalous[t] && float.IsNaN(series.Values[t]), $"series {i} point {t}");
            }
        }
    }
}
