using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AnomalyMeta.Testing;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace AnomalyMeta.Service.Tests;

/// <summary>GET /api/series/{key}/days/{date}, served in process on a fleet scored by the real pipeline.</summary>
[Collection(ScoredFleetTests.Name)]
public sealed class SeriesApiTests(ScoredFleetFixture fleet) : IAsyncLifetime
{
    private WebApplicationFactory<Program> _service = null!;

    public Task InitializeAsync()
    {
        _service = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web.UseSetting("ConnectionStrings:Postgres", fleet.ConnectionString));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task A_scored_day_is_200_json_with_the_days_points_and_its_flags_without_an_api_key()
    {
        string key = await fleet.MostFlaggedSeriesAsync();
        using var client = _service.CreateClient();

        var response = await client.GetAsync($"/api/series/{Uri.EscapeDataString(key)}/days/2026-11-22");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var day = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(key, day.GetProperty("seriesKey").GetString());
        Assert.Equal("2026-11-22", day.GetProperty("date").GetString());
        Assert.Equal(fleet.Run.RunId, day.GetProperty("runId").GetInt64());
        Assert.Equal("scored", day.GetProperty("status").GetString());
        foreach (string series in new[] { "actual", "forecast", "lower", "upper", "scores" })
        {
            Assert.Equal(24, day.GetProperty(series).GetArrayLength());
        }
        Assert.Equal(day.GetProperty("seasonLength").GetInt32(), day.GetProperty("window").GetArrayLength());
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        var flagged = (await connection.QueryAsync<DateTime>(
            "select a.ts from anomaly a join series s using (series_id) where s.series_key = @key and a.as_of = @day order by a.ts",
            new { key, day = ScoredFleetFixture.ScoringDay })).ToList();
        Assert.NotEmpty(flagged);
        Assert.Equal(flagged, day.GetProperty("flags").EnumerateArray().Select(f => f.GetProperty("ts").GetDateTime().ToUniversalTime()).ToList());
        Assert.Equal("scored", day.GetProperty("history")[0].GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_key_with_a_slash_is_read_from_its_escaped_form()
    {
        using var client = _service.CreateClient();

        var response = await client.GetAsync("/api/series/young%2F0001/days/2026-11-22");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(ScoredFleetFixture.YoungSeries, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("seriesKey").GetString());
    }

    [Theory]
    [InlineData("/api/series/no-such-series/days/2026-11-22", "There is no series 'no-such-series'.")]
    [InlineData("/api/series/young%2F0001/days/2026-11-19", "'young/0001' was never scored for 2026-11-19")]
    public async Task An_unknown_series_or_a_day_never_scored_is_a_404_problem_saying_which(string path, string expected)
    {
        using var client = _service.CreateClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(expected, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_date_is_a_400_problem()
    {
        using var client = _service.CreateClient();

        var response = await client.GetAsync("/api/series/young%2F0001/days/22-11-2026");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
