using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AnomalyMeta.Storage;
using AnomalyMeta.Testing;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Service.Tests;

/// <summary>
/// Scoped rescores, feedback and mutes over HTTP, served in process with Quartz running, on a fleet of its own scored by
/// the real pipeline (its flags are changed here, so it is not the collection's shared one).
/// </summary>
public sealed class OperatorsApiTests(ScoredFleetFixture fleet) : IClassFixture<ScoredFleetFixture>, IAsyncLifetime
{
    private WebApplicationFactory<Program> _service = null!;

    public Task InitializeAsync()
    {
        _service = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web.UseSetting("ConnectionStrings:Postgres", fleet.ConnectionString));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _service.DisposeAsync();

    private async Task<string> KeyAsync(string name) =>
        await _service.Services.GetRequiredService<ApiKeyStore>().CreateAsync(name + "-" + Guid.NewGuid().ToString("N")[..6], CancellationToken.None);

    private static HttpRequestMessage Post(string path, string body, string? key) => Send(HttpMethod.Post, path, body, key);

    private static HttpRequestMessage Send(HttpMethod method, string path, string? body, string? key)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }
        return request;
    }

    private async Task<int> CountAsync(string sql, object? parameters = null)
    {
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>(sql, parameters);
    }

    public static TheoryData<string, string> BadScopes() => new()
    {
        { """{"asOf":"2026-11-22","reason":"r","series":["{0}"],"clusters":[1]}""", "clusters" },
        { """{"asOf":"2026-11-22","reason":"r","series":["{0}","no-such-1","no-such-2"]}""", "No such series: 'no-such-1', 'no-such-2'" },
        { """{"asOf":"2026-11-22","reason":"r","series":[""" + string.Join(',', Enumerable.Range(0, 101).Select(i => $"\"k{i}\"")) + "]}", "'series' lists 101 keys; at most 100" },
        { """{"asOf":"2026-11-22","reason":"r","series":[]}""", "'series' is empty" },
        { """{"asOf":"2026-11-22","reason":"r","series":["{0}","{0}"]}""", "twice" },
        { """{"asOf":"2026-11-22","reason":"r","tags":{"te am":"x"}}""", "tag key 'te am'" },
        { """{"asOf":"2026-11-22","reason":"r","tags":{"team":1}}""", "not a rescore request" },
        { """{"asOf":"2026-11-22","reason":"r","cluster":-1}""", "cluster ids start at 0" },
        { """{"asOf":"2026-11-22","reason":"r","cluster":9999}""", "has no cluster 9999" },
        { """{"asOf":"2026-11-22","reason":"r","tags":{"team":"nobody-has-this"}}""", "selects no series" },
    };

    [Theory]
    [MemberData(nameof(BadScopes))]
    public async Task A_bad_rescore_scope_is_a_problem_details_400_and_nothing_is_queued(string body, string expected)
    {
        using var client = _service.CreateClient();
        string key = await KeyAsync("on-call");
        string series = await fleet.QuietSeriesAsync();
        int runs = await CountAsync("select count(*)::int from run");

        var response = await client.SendAsync(Post("/api/runs/rescore", body.Replace("{0}", series, StringComparison.Ordinal), key));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(expected, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(runs, await CountAsync("select count(*)::int from run"));
    }

    [Fact]
    public async Task A_scoped_rescore_needs_a_key_is_queued_with_its_scope_and_rescores_only_it()
    {
        using var client = _service.CreateClient();
        string key = await KeyAsync("on-call");
        string quiet = await fleet.QuietSeriesAsync();
        string body = $$"""{"asOf":"2026-11-22","reason":"feed fixed for two","series":["{{quiet}}","{{ScoredFleetFixture.YoungSeries}}"]}""";

        var anonymous = await client.SendAsync(Post("/api/runs/rescore", body, null));
        var accepted = await client.SendAsync(Post("/api/runs/rescore", body, key));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        long runId = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runId").GetInt64();
        JsonElement run = default;
        for (int attempt = 0; attempt < 300; attempt++)
        {
            run = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{runId}");
            if (run.GetProperty("status").GetString() is "succeeded" or "failed")
            {
                break;
            }
            await Task.Delay(100);
        }
        Assert.Equal("succeeded", run.GetProperty("status").GetString());
        Assert.Equal(2, run.GetProperty("seriesTotal").GetInt32());
        Assert.Equal([quiet, ScoredFleetFixture.YoungSeries], run.GetProperty("scope").GetProperty("series").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(2, await CountAsync("select count(*)::int from run_series where run_id = @runId", new { runId }));
        Assert.Equal(2, await CountAsync(
            "select count(*)::int from run_series rs join series s using (series_id) where rs.run_id = @runId and s.series_key = any(@keys)",
            new { runId, keys = new[] { quiet, ScoredFleetFixture.YoungSeries } }));
    }

    [Fact]
    public async Task Feedback_is_recorded_with_who_and_when_the_latest_verdict_wins_and_gives_the_days_precision()
    {
        using var client = _service.CreateClient();
        string key = await KeyAsync("reviewer");
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        // Two flags of the scoring day, of one series or two: a quiet fleet has few flags per series.
        var flags = (await connection.QueryAsync<(string Series, DateTime Ts)>(
            "select s.series_key, a.ts from anomaly a join series s using (series_id) where a.as_of = @day order by s.series_key, a.ts limit 2",
            new { day = ScoredFleetFixture.ScoringDay })).ToList();
        Assert.Equal(2, flags.Count);
        string Body((string Series, DateTime Ts) flag, string verdict) =>
            JsonSerializer.Serialize(new { series = flag.Series, ts = flag.Ts.ToString("yyyy-MM-ddTHH:mm:ssZ"), verdict, note = "checked" });

        var anonymous = await client.SendAsync(Post("/api/anomalies/feedback", Body(flags[0], "confirmed"), null));
        var first = await client.SendAsync(Post("/api/anomalies/feedback", Body(flags[0], "false_positive"), key));
        var changed = await client.SendAsync(Post("/api/anomalies/feedback", Body(flags[0], "confirmed"), key));
        var second = await client.SendAsync(Post("/api/anomalies/feedback", Body(flags[1], "false_positive"), key));
        var notAFlag = await client.SendAsync(Post("/api/anomalies/feedback", Body((flags[0].Series, flags[0].Ts.AddMinutes(30)), "confirmed"), key));
        var badVerdict = await client.SendAsync(Post("/api/anomalies/feedback", Body(flags[0], "fp"), key));
        var unknownField = await client.SendAsync(Post("/api/anomalies/feedback",
            $$"""{"series":"{{flags[0].Series}}","ts":"{{flags[0].Ts:yyyy-MM-ddTHH:mm:ssZ}}","verdict":"confirmed","givenBy":"someone else"}""", key));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, notAFlag.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badVerdict.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unknownField.StatusCode);
        var line = await changed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("confirmed", line.GetProperty("verdict").GetString());
        var stored = (await connection.QueryAsync<(string Verdict, string GivenBy, DateTime GivenAt)>(
            """
            select f.verdict, f.given_by, f.given_at from anomaly_feedback f join series s using (series_id)
            order by s.series_key, f.ts
            """)).ToList();
        Assert.Equal(["confirmed", "false_positive"], stored.Select(s => s.Verdict));
        Assert.All(stored, s => Assert.StartsWith("apikey:reviewer-", s.GivenBy, StringComparison.Ordinal));
        Assert.All(stored, s => Assert.True(Math.Abs((DateTime.UtcNow - s.GivenAt.ToUniversalTime()).TotalMinutes) < 10));
        var day = Assert.Single(await _service.Services.GetRequiredService<FeedbackStore>().ByDayAsync(ScoredFleetFixture.ScoringDay, CancellationToken.None));
        Assert.Equal(new FeedbackDay(ScoredFleetFixture.ScoringDay, 1, 1), day);
        Assert.Equal(0.5, day.Precision);
        Assert.Empty(await _service.Services.GetRequiredService<FeedbackStore>().ByDayAsync(ScoredFleetFixture.ScoringDay.AddDays(1), CancellationToken.None));
    }

    [Fact]
    public async Task A_mute_marks_the_series_flags_alertable_anomalies_leave_them_out_and_lifting_it_brings_them_back()
    {
        using var client = _service.CreateClient();
        string key = await KeyAsync("on-call");
        string series = await fleet.MostFlaggedSeriesAsync();
        int flags = await CountAsync("select count(*)::int from anomaly a join series s using (series_id) where s.series_key = @series", new { series });
        int others = await CountAsync("select count(*)::int from alertable_anomaly where series_key <> @series", new { series });
        string body = JsonSerializer.Serialize(new { series, reason = "known maintenance" });

        var anonymous = await client.SendAsync(Post("/api/mutes", body, null));
        var created = await client.SendAsync(Post("/api/mutes", body, key));
        int alertableWhileMuted = await CountAsync("select count(*)::int from alertable_anomaly where series_key = @series", new { series });
        int marked = await CountAsync(
            "select count(*)::int from anomaly a join series s using (series_id) where s.series_key = @series and a.muted", new { series });
        var mute = await created.Content.ReadFromJsonAsync<JsonElement>();
        long muteId = mute.GetProperty("muteId").GetInt64();
        var lifted = await client.SendAsync(Send(HttpMethod.Delete, $"/api/mutes/{muteId}", null, key));
        var badRange = await client.SendAsync(Post("/api/mutes",
            JsonSerializer.Serialize(new { series, reason = "r", from = "2026-11-22T10:00:00Z", to = "2026-11-22T09:00:00Z" }), key));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.True(flags > 0);
        Assert.Equal(flags, mute.GetProperty("flagsMarked").GetInt32());
        Assert.Equal(flags, marked);
        Assert.Equal(0, alertableWhileMuted);
        Assert.Equal(others, await CountAsync("select count(*)::int from alertable_anomaly where series_key <> @series", new { series }));
        Assert.Equal(HttpStatusCode.OK, lifted.StatusCode);
        Assert.Equal(flags, await CountAsync("select count(*)::int from alertable_anomaly where series_key = @series", new { series }));
        Assert.Equal(HttpStatusCode.BadRequest, badRange.StatusCode);
    }
}
