using AnomalyMeta.Core.Series;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Dapper;

namespace AnomalyMeta.Storage.Tests;

/// <summary>
/// A day's dashboard summary (counts per tag value and each value's top flags, db/0016, 0017 and 0022) against the
/// day's flags themselves, with a list shallow enough that some values hold more flags than it keeps.
/// </summary>
public sealed class DashboardSummaryTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private const int Depth = 7;

    private readonly SeriesRepository _series = new(postgres.DataSource);
    private readonly RunLedger _ledger = new(postgres.DataSource);
    private readonly DashboardQueries _dashboard = new(postgres.DataSource, Depth);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_days_counts_and_top_flags_per_tag_value_are_those_of_its_flags_and_a_value_pages_through_all_of_them(int seed)
    {
        // 30 series in teams "even", "odd" and "few" (3 series); 0 to 6 flags each, scores from five values so that
        // ties in score abound. Each day is its own summary.
        var day = new DateOnly(2026, 3, 1).AddDays(seed);
        var random = new Random(seed);
        var registrations = Enumerable.Range(0, 30).Select(i => new SeriesRegistration($"summary-{seed}/{i:D2}", 3600, new Dictionary<string, string>
        {
            ["team"] = i % 10 == 0 ? "few" : i % 2 == 0 ? "even" : "odd",
            ["region"] = $"r{i % 3}",
        })).ToList();
        var ids = (await _series.RegisterAsync(registrations, CancellationToken.None)).Values.Order().ToArray();
        var run = await _ledger.StartAsync(RunKind.Nightly, day, "test", null, ids.Length, CancellationToken.None);
        var flags = new List<AnomalyRow>();
        foreach (int id in ids)
        {
            foreach (int hour in Enumerable.Range(0, 24).OrderBy(_ => random.Next()).Take(random.Next(7)))
            {
                var ts = new DateTimeOffset(day.ToDateTime(new TimeOnly(hour, 0)), TimeSpan.Zero);
                flags.Add(new AnomalyRow(id, ts, random.Next(100), 50f, 40f, 60f, 0.5f + (0.1f * random.Next(5))));
            }
        }
        await _ledger.CommitBatchAsync(run.Run.RunId, day, ids.Select(id => new SeriesOutcome(id, SeriesStatus.Scored, null, 24)).ToArray(), flags.ToArray(),
            CancellationToken.None);

        var totals = await _dashboard.TagCountsAsync(day, null, CancellationToken.None);

        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        var parameters = new { day, ids, depth = Depth };
        var expectedCounts = (await connection.QueryAsync<(string, string, int, int, float)>(
            """
            select t.key, t.value, count(*)::int, count(distinct a.series_id)::int, max(a.score)
            from anomaly a join series s using (series_id) cross join lateral jsonb_each_text(s.tags) t
            where a.as_of = @day and a.series_id = any(@ids)
            group by 1, 2 order by 1, 2
            """, parameters)).ToList();
        var storedCounts = (await connection.QueryAsync<(string, string, int, int, float)>(
            "select tag_key, tag_value, anomalies, series, max_score from anomaly_tag_count where as_of = @day order by 1, 2", parameters)).ToList();
        Assert.Equal(expectedCounts, storedCounts);
        Assert.Equal(flags.Count, totals.Anomalies);
        Assert.Equal(flags.Select(f => f.SeriesId).Distinct().Count(), totals.Series);
        Assert.Contains(expectedCounts, c => c.Item3 > Depth);

        const string Line = "series_id, ts, score, value, forecast, lower_band, upper_band, run_id";
        var expectedTop = (await connection.QueryAsync<string>(
            $"""
            select concat_ws('|', tag_key, tag_value, {Line}, series_key, tags::text) from (
                select t.key as tag_key, t.value as tag_value, a.*, s.series_key, s.tags,
                       row_number() over (partition by t.key, t.value order by a.score desc, a.series_id desc, a.ts desc) as rank
                from anomaly a join series s using (series_id) cross join lateral jsonb_each_text(s.tags) t
                where a.as_of = @day and a.series_id = any(@ids)) ranked
            where rank <= @depth
            order by tag_key, tag_value, score desc, series_id desc, ts desc
            """, parameters)).ToList();
        var storedTop = (await connection.QueryAsync<string>(
            $"""
            select concat_ws('|', tag_key, tag_value, {Line}, series_key, tags::text) from anomaly_tag_top
            where as_of = @day order by tag_key, tag_value, score desc, series_id desc, ts desc
            """, parameters)).ToList();
        Assert.Equal(expectedTop, storedTop);

        // A value with more flags than the list holds pages past it through the day's ranking, without gap or repeat.
        var ranking = (await connection.QueryAsync<(int, DateTime)>(
            """
            select a.series_id, a.ts from anomaly a join series s using (series_id)
            where a.as_of = @day and s.tags ->> 'team' = 'even' and a.series_id = any(@ids)
            order by a.score desc, a.series_id desc, a.ts desc
            """, parameters)).Select(r => (r.Item1, DateTime.SpecifyKind(r.Item2, DateTimeKind.Utc))).ToList();
        Assert.True(ranking.Count > Depth, $"team even has {ranking.Count} flags, no more than the list's {Depth}");
        var paged = new List<(int, DateTime)>();
        AnomalyCursor? after = null;
        do
        {
            var page = await _dashboard.AnomaliesAsync(new AnomalyFilter(day, Tags: [new("team", "even")]), after, 3, CancellationToken.None);
            paged.AddRange(page.Items.Select(i => (i.SeriesId, i.Ts)));
            after = page.Next;
        }
        while (after is not null);
        Assert.Equal(ranking, paged);
    }
}
