using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AnomalyMeta.Testing;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace AnomalyMeta.Service.Tests;

/// <summary>The dashboard's JSON API (GET /api/anomalies..., /api/runs/statuses, the OpenAPI document) on a fleet scored by the real pipeline.</summary>
[Collection(ScoredFleetTests.Name)]
public sealed class AnomaliesApiTests(ScoredFleetFixture fleet) : IAsyncLifetime
{
    private WebApplicationFactory<Program> _service = null!;

    public async Task InitializeAsync()
    {
        await DashboardFleet.TagAsync(fleet);
        _service = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web.UseSetting("ConnectionStrings:Postgres", fleet.ConnectionString));
    }

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task The_days_anomalies_come_highest_score_first_and_pages_follow_each_other_without_gap_or_repeat()
    {
        var expected = await DashboardFleet.RankedAsync(fleet);
        Assert.True(expected.Count > 10, $"the scored fleet has {expected.Count} anomalies on its scoring day");
        using var client = _service.CreateClient();

        var seen = new List<(string, DateTime, float)>();
        string? after = null;
        int pages = 0;
        do
        {
            var page = await client.GetFromJsonAsync<JsonElement>($"/api/anomalies?date=2026-11-22&limit=7{(after is null ? "" : $"&after={Uri.EscapeDataString(after)}")}");
            Assert.Equal("2026-11-22", page.GetProperty("date").GetString());
            var items = page.GetProperty("items").EnumerateArray().ToList();
            Assert.InRange(items.Count, 1, 7);
            seen.AddRange(items.Select(i => (i.GetProperty("seriesKey").GetString()!, i.GetProperty("ts").GetDateTime().ToUniversalTime(), i.GetProperty("score").GetSingle())));
            after = page.GetProperty("next").GetString();
            pages++;
        }
        while (after is not null);

        Assert.Equal(expected, seen);
        Assert.Equal((expected.Count + 6) / 7, pages);
        // No date: the newest day of a succeeded run (other tests of the collection may add runs of later days).
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        var newest = await connection.ExecuteScalarAsync<DateTime>("select max(as_of) from run where status = 'succeeded'");
        Assert.Equal(newest.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            (await client.GetFromJsonAsync<JsonElement>("/api/anomalies?limit=1")).GetProperty("date").GetString());
    }

    [Fact]
    public async Task Each_filter_narrows_the_list_to_exactly_the_matching_anomalies()
    {
        using var client = _service.CreateClient();
        string flagged = await fleet.MostFlaggedSeriesAsync();
        string part = flagged[^4..];
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        int cluster = await connection.ExecuteScalarAsync<int>("select cluster_id from series where series_key = @flagged", new { flagged });

        var cases = new (string Query, string Where, object? Parameters)[]
        {
            ("tag=region%3Deu", "s.tags ->> 'region' = 'eu'", null),
            ("tag=region%3Dus&tag=tier%3Dgold", "s.tags ->> 'region' = 'us' and s.tags ->> 'tier' = 'gold'", null),
            ("minScore=0.8", "a.score >= 0.8", null),
            ($"cluster={cluster}", "s.cluster_id = @cluster", new { cluster }),
            ($"q={part.ToUpperInvariant()}", "s.series_key ilike '%' || @part || '%'", new { part }),
            ($"series={Uri.EscapeDataString(flagged)}", "s.series_key = @flagged", new { flagged }),
        };
        int all = (await DashboardFleet.RankedAsync(fleet)).Count;
        foreach (var (query, where, parameters) in cases)
        {
            var expected = await DashboardFleet.RankedAsync(fleet, where, parameters);
            var page = await client.GetFromJsonAsync<JsonElement>($"/api/anomalies?date=2026-11-22&limit=500&{query}");
            var keys = page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("seriesKey").GetString()).ToList();

            Assert.NotEmpty(expected);
            Assert.True(expected.Count < all, $"{query} matches every anomaly of the day: it tests nothing");
            Assert.Equal(expected.Select(e => e.Key), keys);
        }
    }

    [Fact]
    public async Task A_one_tag_page_comes_from_the_stored_top_flags_of_its_value_and_follows_a_change_of_tags()
    {
        using var client = _service.CreateClient();
        await using var connection = await fleet.DataSource.OpenConnectionAsync();

        async Task<List<string>> PagedAsync(string query)
        {
            var keys = new List<string>();
            string? after = null;
            do
            {
                var page = await client.GetFromJsonAsync<JsonElement>($"/api/anomalies?date=2026-11-22&limit=3&{query}{(after is null ? "" : $"&after={Uri.EscapeDataString(after)}")}");
                keys.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("seriesKey").GetString()!));
                after = page.GetProperty("next").GetString();
            }
            while (after is not null);
            return keys;
        }

        var eu = await DashboardFleet.RankedAsync(fleet, "s.tags ->> 'region' = 'eu'");
        var euAbove = await DashboardFleet.RankedAsync(fleet, "s.tags ->> 'region' = 'eu' and a.score >= 0.7");
        Assert.Equal(eu.Select(e => e.Key), await PagedAsync("tag=region%3Deu"));
        Assert.Equal(euAbove.Select(e => e.Key), await PagedAsync("tag=region%3Deu&minScore=0.7"));
        Assert.True(await connection.ExecuteScalarAsync<int>("select count(*) from anomaly_tag_top where as_of = @day and tag_key = 'region' and tag_value = 'eu'",
            new { day = ScoredFleetFixture.ScoringDay }) == eu.Count, "the page was not read from anomaly_tag_top");

        // A flagged series moves from us to eu: the stored lists were made under the old tags and no longer hold.
        string moved = (await DashboardFleet.RankedAsync(fleet, "s.tags ->> 'region' = 'us'"))[0].Key;
        await connection.ExecuteAsync("update series set tags = tags || '{\"region\": \"eu\"}' where series_key = @moved", new { moved });
        try
        {
            var euNow = await DashboardFleet.RankedAsync(fleet, "s.tags ->> 'region' = 'eu'");
            Assert.Contains(moved, euNow.Select(e => e.Key));
            Assert.Equal(euNow.Select(e => e.Key), await PagedAsync("tag=region%3Deu"));
        }
        finally
        {
            await connection.ExecuteAsync("update series set tags = tags || '{\"region\": \"us\"}' where series_key = @moved", new { moved });
        }
        Assert.Equal(eu.Select(e => e.Key), await PagedAsync("tag=region%3Deu"));
    }

    [Fact]
    public async Task A_one_tag_pages_stored_lines_are_the_flags_and_series_as_they_are_and_follow_a_series_moved_to_another_cluster()
    {
        using var client = _service.CreateClient();
        await using var connection = await fleet.DataSource.OpenConnectionAsync();

        async Task<List<Line>> ExpectedAsync() => (await connection.QueryAsync<(string, DateTime, float, float, float, float, float, long, int?, int?, string)>(
            """
            select s.series_key, a.ts, a.score, a.value, a.forecast, a.lower_band, a.upper_band, a.run_id, s.cluster_version, s.cluster_id, s.tags::text
            from anomaly a join series s using (series_id)
            where a.as_of = @day and s.tags ->> 'region' = 'eu'
            order by a.score desc, a.series_id desc, a.ts desc
            """, new { day = ScoredFleetFixture.ScoringDay }))
            .Select(r => new Line(r.Item1, DateTime.SpecifyKind(r.Item2, DateTimeKind.Utc), r.Item3, r.Item4, r.Item5, r.Item6, r.Item7, r.Item8, r.Item9, r.Item10,
                TagsText(JsonDocument.Parse(r.Item11).RootElement)))
            .ToList();

        async Task<List<Line>> PageAsync() => (await client.GetFromJsonAsync<JsonElement>("/api/anomalies?date=2026-11-22&limit=500&tag=region%3Deu"))
            .GetProperty("items").EnumerateArray()
            .Select(i => new Line(i.GetProperty("seriesKey").GetString()!, i.GetProperty("ts").GetDateTime().ToUniversalTime(), i.GetProperty("score").GetSingle(),
                i.GetProperty("value").GetSingle(), i.GetProperty("forecast").GetSingle(), i.GetProperty("lowerBand").GetSingle(), i.GetProperty("upperBand").GetSingle(),
                i.GetProperty("runId").GetInt64(), i.GetProperty("clusterVersion").GetInt32(), i.GetProperty("clusterId").GetInt32(), TagsText(i.GetProperty("tags"))))
            .ToList();

        var expected = await ExpectedAsync();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, await PageAsync());
        Assert.True(await connection.ExecuteScalarAsync<long>("select count(*) from anomaly_tag_top where as_of = @day and tag_key = 'region' and tag_value = 'eu'",
            new { day = ScoredFleetFixture.ScoringDay }) == expected.Count, "the page was not read from anomaly_tag_top");

        // The top eu series moves to another cluster of its clustering: the stored lines copied its cluster.
        var (seriesId, version, cluster, primary, secondary, status, features) = await connection.QuerySingleAsync<(int, int, int, int?, int?, string, float[])>(
            """
            select sa.series_id, sa.cluster_version, sa.cluster_id, sa.primary_period, sa.secondary_period, sa.period_status, sa.features
            from anomaly_tag_top t join series s using (series_id)
            join series_assignment sa on sa.series_id = s.series_id and sa.cluster_version = s.cluster_version
            where t.as_of = @day and t.tag_key = 'region' and t.tag_value = 'eu'
            order by t.score desc, t.series_id desc, t.ts desc limit 1
            """, new { day = ScoredFleetFixture.ScoringDay });
        int other = await connection.ExecuteScalarAsync<int>(
            "select cluster_id from cluster where cluster_version = @version and cluster_id <> @cluster order by cluster_id limit 1", new { version, cluster });
        var repository = new Storage.SeriesRepository(fleet.DataSource);
        await repository.UpdateAssignmentsAsync(version, [new Storage.Records.SeriesAssignment(seriesId, other, primary, secondary, status, features)], CancellationToken.None);
        try
        {
            var moved = await ExpectedAsync();
            Assert.Equal(other, moved[0].ClusterId);
            Assert.Equal(moved, await PageAsync());
        }
        finally
        {
            await repository.UpdateAssignmentsAsync(version, [new Storage.Records.SeriesAssignment(seriesId, cluster, primary, secondary, status, features)], CancellationToken.None);
        }
        Assert.Equal(expected, await PageAsync());

        // Tags as sorted key=value pairs: PostgreSQL's jsonb text and the API's JSON space them differently.
        static string TagsText(JsonElement tags) =>
            string.Join(';', tags.EnumerateObject().Select(p => $"{p.Name}={p.Value.GetString()}").Order(StringComparer.Ordinal));
    }

    private sealed record Line(string Key, DateTime Ts, float Score, float Value, float Forecast, float LowerBand, float UpperBand, long RunId,
        int? ClusterVersion, int? ClusterId, string Tags);

    [Fact]
    public async Task Counts_per_tag_value_are_the_days_anomalies_grouped_and_are_counted_again_after_a_new_run_of_the_day()
    {
        using var client = _service.CreateClient();
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        var expected = (await connection.QueryAsync<(string Value, int Anomalies, int Series)>(
            """
            select s.tags ->> 'region', count(*)::int, count(distinct a.series_id)::int from anomaly a join series s using (series_id)
            where a.as_of = @day group by 1 order by 2 desc, 1
            """, new { day = ScoredFleetFixture.ScoringDay })).ToList();

        var first = await client.GetFromJsonAsync<JsonElement>("/api/anomalies/tags?date=2026-11-22&key=region");
        var again = await client.GetFromJsonAsync<JsonElement>("/api/anomalies/tags?date=2026-11-22&key=region");

        Assert.Equal(expected, first.GetProperty("counts").EnumerateArray()
            .Select(c => (c.GetProperty("value").GetString()!, c.GetProperty("anomalies").GetInt32(), c.GetProperty("series").GetInt32())).ToList());
        Assert.Equal(expected.Sum(e => e.Anomalies), first.GetProperty("anomalies").GetInt32());
        Assert.Equal(first.GetProperty("computedAt").GetDateTime(), again.GetProperty("computedAt").GetDateTime());

        // A rescore of the day changes its flags: the stored counts no longer hold.
        long runId = await connection.ExecuteScalarAsync<long>(
            "insert into run (kind, as_of, status, triggered_by, reason) values ('rescore', @day, 'failed', 'test', 'recount') returning run_id",
            new { day = ScoredFleetFixture.ScoringDay });
        try
        {
            var recounted = await client.GetFromJsonAsync<JsonElement>("/api/anomalies/tags?date=2026-11-22&key=region");
            Assert.True(recounted.GetProperty("computedAt").GetDateTime() > first.GetProperty("computedAt").GetDateTime());
        }
        finally
        {
            await connection.ExecuteAsync("delete from run where run_id = @runId", new { runId });
        }
    }

    [Fact]
    public async Task A_series_anomalies_across_days_are_its_anomaly_rows()
    {
        string key = await fleet.MostFlaggedSeriesAsync();
        using var client = _service.CreateClient();
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        var expected = (await connection.QueryAsync<DateTime>(
            "select a.ts from anomaly a join series s using (series_id) where s.series_key = @key and a.as_of <= @day order by a.ts desc",
            new { key, day = ScoredFleetFixture.ScoringDay }))
            .Select(t => DateTime.SpecifyKind(t, DateTimeKind.Utc)).ToList();

        var history = await client.GetFromJsonAsync<JsonElement>($"/api/series/{Uri.EscapeDataString(key)}/anomalies?to=2026-11-22&days=30");

        Assert.Equal("2026-11-22", history.GetProperty("to").GetString());
        Assert.Equal(expected, history.GetProperty("flags").EnumerateArray().Select(f => f.GetProperty("ts").GetDateTime().ToUniversalTime()).ToList());
        Assert.Equal(expected.Count, history.GetProperty("days").EnumerateArray().Sum(d => d.GetProperty("anomalies").GetInt32()));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/series/no-such-series/anomalies")).StatusCode);
    }

    [Fact]
    public async Task Runs_come_with_their_series_per_status_as_run_series_holds_them()
    {
        using var client = _service.CreateClient();
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        var expected = (await connection.QueryAsync<(string Status, int Series)>(
            "select status, count(*)::int from run_series where run_id = @runId group by status order by status", new { runId = fleet.Run.RunId }))
            .ToDictionary(r => r.Status, r => r.Series);

        var runs = await client.GetFromJsonAsync<JsonElement>("/api/runs/statuses");

        var run = runs.EnumerateArray().Single(r => r.GetProperty("run").GetProperty("runId").GetInt64() == fleet.Run.RunId);
        Assert.False(run.GetProperty("live").GetBoolean());
        Assert.Equal(expected, run.GetProperty("statusCounts").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32()));
        Assert.Equal(expected, (await client.GetFromJsonAsync<JsonElement>("/api/runs/statuses")).EnumerateArray()
            .Single(r => r.GetProperty("run").GetProperty("runId").GetInt64() == fleet.Run.RunId)
            .GetProperty("statusCounts").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32()));
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "select count(distinct finished_at)::int from run_status_count where run_id = @runId", new { runId = fleet.Run.RunId }));
    }

    [Theory]
    [InlineData("/api/anomalies?tag=region", "not key=value")]
    [InlineData("/api/anomalies?minScore=2", "from 0 to 1")]
    [InlineData("/api/anomalies?after=abc", "page token")]
    [InlineData("/api/anomalies?date=22-11-2026", "yyyy-MM-dd")]
    [InlineData("/api/series/x/anomalies?days=400", "1 to 90")]
    public async Task A_malformed_query_is_a_400_problem_naming_the_parameter(string path, string expected)
    {
        using var client = _service.CreateClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_read_endpoints_and_scalar_serves_a_reference_without_a_key()
    {
        using var client = _service.CreateClient();

        var document = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var scalar = await client.GetAsync("/scalar");

        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        foreach (string path in new[] { "/api/anomalies", "/api/anomalies/tags", "/api/series/{key}/anomalies", "/api/runs/statuses", "/api/series/{key}/days/{date}" })
        {
            Assert.Contains(path, paths);
        }
        Assert.Equal(HttpStatusCode.OK, scalar.StatusCode);
        // The reference's script is served by the service itself, not a CDN: it works where the browser has no internet.
        string html = await scalar.Content.ReadAsStringAsync();
        var script = System.Text.RegularExpressions.Regex.Match(html, "src=\"([^\"]*scalar\\.js)\"");
        Assert.True(script.Success, html);
        var js = await client.GetAsync(new Uri(new Uri(client.BaseAddress!, "/scalar/"), script.Groups[1].Value));
        Assert.Equal(HttpStatusCode.OK, js.StatusCode);
        Assert.True((await js.Content.ReadAsByteArrayAsync()).Length > 100_000);
    }
}
