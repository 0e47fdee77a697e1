using AnomalyMeta.Core.Detection;
using AnomalyMeta.Scoring.Batches;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Dapper;

namespace AnomalyMeta.Service.Tests;

/// <summary>The test classes reading one scored fleet (prepared once: ingest, cluster, train and score take a while).</summary>
[CollectionDefinition(Name)]
public sealed class ScoredFleetTests : ICollectionFixture<ScoredFleetFixture>
{
    public const string Name = "Scored fleet";
}

/// <summary><see cref="SeriesDayQueries"/> against a fleet scored by the real pipeline, checked against the tables it reads.</summary>
[Collection(ScoredFleetTests.Name)]
public sealed class SeriesDayQueriesTests(ScoredFleetFixture fleet)
{
    private static readonly DetectionOptions Detection = new();

    private SeriesDayQueries Queries => new(fleet.DataSource);

    [Fact]
    public async Task A_scored_day_has_the_days_points_forecast_and_band_and_its_flags_are_exactly_the_anomaly_rows()
    {
        string key = await fleet.MostFlaggedSeriesAsync();

        var lookup = await Queries.DayAsync(key, ScoredFleetFixture.ScoringDay, Detection, 30, CancellationToken.None);

        var day = Assert.IsType<SeriesDay>(lookup.Day);
        Assert.Null(lookup.Missing);
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        var stored = await connection.QuerySingleAsync<(long RunId, float[] Forecast, float[] Scores, int Anomalies)>(
            """
            select rs.run_id, rs.forecast, rs.scores, rs.anomaly_count
            from run_series rs join series s using (series_id) where s.series_key = @key and rs.run_id = @runId
            """,
            new { key, runId = fleet.Run.RunId });
        float[] points = await connection.QuerySingleAsync<float[]>(
            "select observation_points(points) from observation_day join series using (series_id) where series_key = @key and day = @day", new { key, day = ScoredFleetFixture.ScoringDay });
        Assert.Equal(fleet.Run.RunId, day.RunId);
        Assert.Equal("scored", day.Status);
        Assert.Equal(24, day.PointsPerDay);
        Assert.Equal(points, day.Actual);
        Assert.Equal(stored.Forecast, day.Forecast);
        Assert.Equal(stored.Scores, day.Scores);
        Assert.Equal(24, day.Lower.Length);
        Assert.Equal(24, day.Upper.Length);
        Assert.Equal(day.SeasonLength, day.Window.Length);
        Assert.Equal(new DateTime(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc), day.DayStart);
        Assert.Equal(day.DayStart.AddHours(-day.SeasonLength), day.WindowStart);
        // The scorer's distance to flag at the start of the day, from the detector state the day before left.
        var before = await connection.QuerySingleAsync<(float Scale, float Peak)>(
            """
            select rs.residual_scale, rs.residual_peak from run_series rs join run r using (run_id) join series s using (series_id)
            where s.series_key = @key and r.as_of = @day and rs.status = 'scored'
            """,
            new { key, day = ScoredFleetFixture.ScoringDay.AddDays(-1) });
        float halfWidth = Math.Max(Detection.Threshold * before.Scale, Detection.PeakMargin * before.Peak);
        Assert.Equal(ScoredFleetFixture.ScoringDay.AddDays(-1), day.ScaleAsOf);
        Assert.Equal(halfWidth, day.BandHalfWidth, 1e-3f * halfWidth);
        for (int t = 0; t < 24; t++)
        {
            Assert.Equal(halfWidth, day.Upper[t] - day.Forecast[t], 2e-3f * halfWidth);
            Assert.Equal(halfWidth, day.Forecast[t] - day.Lower[t], 2e-3f * halfWidth);
        }

        var anomalies = (await connection.QueryAsync<(DateTime Ts, float Value, float Forecast, float Lower, float Upper, float Score)>(
            """
            select a.ts, a.value, a.forecast, a.lower_band, a.upper_band, a.score
            from anomaly a join series s using (series_id) where s.series_key = @key and a.as_of = @day order by a.ts
            """,
            new { key, day = ScoredFleetFixture.ScoringDay })).ToList();
        Assert.NotEmpty(anomalies);
        Assert.Equal(stored.Anomalies, anomalies.Count);
        Assert.Equal(anomalies.Count, day.AnomalyCount);
        Assert.Equal(anomalies, day.Flags.Select(f => (f.Ts, f.Value, f.Forecast, f.LowerBand, f.UpperBand, f.Score)).ToList());
        foreach (var flag in day.Flags)
        {
            Assert.Equal(day.DayStart.AddHours(flag.Index), flag.Ts);
            Assert.Equal(day.Actual[flag.Index], flag.Value);
            Assert.Equal(day.Scores[flag.Index], flag.Score);
            Assert.Equal(fleet.Run.RunId, flag.RunId);
        }
        // A point is flagged exactly when its stored score reaches the threshold's 0.5 (quiet points stay below it).
        Assert.Equal(day.Flags.Select(f => f.Index), Enumerable.Range(0, 24).Where(t => day.Scores[t] >= 0.5f));

        var latest = day.History[0];
        Assert.Equal((fleet.Run.RunId, "nightly", ScoredFleetFixture.ScoringDay, "scored", anomalies.Count), (latest.RunId, latest.Kind, latest.AsOf, latest.Status, latest.AnomalyCount));
        Assert.Equal(ScoredFleetFixture.ScoringDay.AddDays(-1), day.History[1].AsOf);
    }

    [Fact]
    public async Task The_window_is_the_last_season_before_the_day_of_the_model_that_scored_the_series()
    {
        string own = await fleet.QuietSeriesAsync();

        var ownDay = (await Queries.DayAsync(own, ScoredFleetFixture.ScoringDay, Detection, 30, CancellationToken.None)).Day!;
        var youngDay = (await Queries.DayAsync(ScoredFleetFixture.YoungSeries, ScoredFleetFixture.ScoringDay, Detection, 30, CancellationToken.None)).Day!;

        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        var periods = await connection.QuerySingleAsync<(int? Primary, int? Secondary)>(
            """
            select c.primary_period, c.secondary_period
            from series s join run r on r.run_id = @runId
            join series_assignment sa on sa.series_id = s.series_id and sa.cluster_version = r.clustering_version
            join cluster c on c.cluster_version = sa.cluster_version and c.cluster_id = sa.cluster_id
            where s.series_key = @own
            """,
            new { own, runId = fleet.Run.RunId });
        Assert.Equal(ScoringModel.SupportSeason(periods.Primary ?? 0, periods.Secondary ?? 0, 24), ownDay.SeasonLength);
        Assert.StartsWith("cluster ", ownDay.Model, StringComparison.Ordinal);
        Assert.StartsWith("generic model of step 3600 s", youngDay.Detail, StringComparison.Ordinal);
        Assert.StartsWith("generic model of step 3600 s", youngDay.Model, StringComparison.Ordinal);
        Assert.Equal(ScoringModel.GenericSeason(24), youngDay.SeasonLength);

        // The window is the K points just before the day, read from the stored days.
        float[] before = await connection.QuerySingleAsync<float[]>(
            """
            select array_agg(p order by d.day, o) from observation_day d join series s using (series_id),
                 unnest(observation_points(d.points)) with ordinality as u(p, o)
            where s.series_key = @own and d.day < @day and d.day >= @day - 14
            """,
            new { own, day = ScoredFleetFixture.ScoringDay });
        Assert.Equal(before[^ownDay.SeasonLength..], ownDay.Window);
    }

    [Fact]
    public async Task An_unknown_series_or_a_day_never_scored_has_no_picture_and_says_why()
    {
        string own = await fleet.QuietSeriesAsync();
        var noFeed = ScoredFleetFixture.ScoringDay.AddDays(1);
        await fleet.Fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, noFeed, "test"), CancellationToken.None);

        var unknown = await Queries.DayAsync("no/such/series", ScoredFleetFixture.ScoringDay, Detection, 30, CancellationToken.None);
        var neverRun = await Queries.DayAsync(own, ScoredFleetFixture.ScoringDay.AddDays(-3), Detection, 30, CancellationToken.None);
        var withoutData = await Queries.DayAsync(own, noFeed, Detection, 30, CancellationToken.None);

        Assert.Null(unknown.Day);
        Assert.Equal("There is no series 'no/such/series'.", unknown.Missing);
        Assert.Null(neverRun.Day);
        Assert.Contains($"'{own}' was never scored for 2026-11-19: no run of that date covered it", neverRun.Missing, StringComparison.Ordinal);
        Assert.Null(withoutData.Day);
        Assert.Contains("left it no_data (no observation on the scoring day)", withoutData.Missing, StringComparison.Ordinal);
    }
}
