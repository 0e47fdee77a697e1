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

/// <summary>The service's HTTP endpoints, served in process against a throwaway database, with Quartz running.</summary>
public sealed class RunsApiTests : ServiceOnThrowawayDatabase
{

    private static HttpRequestMessage Rescore(string body, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/runs/rescore") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }
        return request;
    }

    [Fact]
    public async Task A_rescore_needs_a_live_key_and_records_the_keys_name_as_who_asked()
    {
        using var client = Service.CreateClient();
        string key = await KeyAsync("on-call");
        string revoked = await KeyAsync("former");
        await Service.Services.GetRequiredService<ApiKeyStore>().RevokeAsync("former", CancellationToken.None);
        const string body = """{"asOf":"2026-11-22","reason":"feed fixed"}""";

        var anonymous = await client.SendAsync(Rescore(body, null));
        var wrong = await client.SendAsync(Rescore(body, key + "x"));
        var withRevoked = await client.SendAsync(Rescore(body, revoked));
        var accepted = await client.SendAsync(Rescore(body, key));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, withRevoked.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var run = await accepted.Content.ReadFromJsonAsync<JsonElement>();
        long runId = run.GetProperty("runId").GetInt64();
        Assert.Equal($"/api/runs/{runId}", accepted.Headers.Location?.ToString());
        Assert.Equal("apikey:on-call", run.GetProperty("triggeredBy").GetString());
        await using var connection = await Database.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("select count(*) from run"));
    }

    [Fact]
    public async Task An_accepted_rescore_is_in_the_ledger_at_once_and_ends_failed_with_the_reason_when_nothing_is_trained()
    {
        using var client = Service.CreateClient();
        string key = await KeyAsync("on-call");

        var accepted = await client.SendAsync(Rescore("""{"asOf":"2026-11-22","reason":"feed fixed"}""", key));
        long runId = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runId").GetInt64();
        JsonElement run = default;
        for (int attempt = 0; attempt < 100; attempt++)
        {
            run = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{runId}");
            if (run.GetProperty("status").GetString() is "succeeded" or "failed")
            {
                break;
            }
            await Task.Delay(100);
        }

        Assert.Equal("failed", run.GetProperty("status").GetString());
        Assert.Contains("No meta-learner", run.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"reason":"feed fixed"}""", "'asOf'")]
    [InlineData("""{"asOf":"0001-01-01","reason":"feed fixed"}""", "'asOf'")]
    [InlineData("""{"asOf":"2026-11-22"}""", "'reason'")]
    [InlineData("""{"asOf":"2026-11-22","reason":"feed fixed","triggeredBy":"someone else"}""", "triggeredBy")]
    [InlineData("""{"asOf":"22/11/2026","reason":"feed fixed"}""", "asOf")]
    [InlineData("not json", "not a rescore request")]
    public async Task A_bad_rescore_body_is_a_problem_details_answer_saying_what_is_wrong(string body, string expected)
    {
        using var client = Service.CreateClient();
        string key = await KeyAsync("on-call");

        var response = await client.SendAsync(Rescore(body, key));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(expected, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        await using var connection = await Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("select count(*) from run"));
    }

    [Fact]
    public async Task Oversized_bodies_and_reasons_are_refused()
    {
        using var client = Service.CreateClient();
        string key = await KeyAsync("on-call");

        var longReason = await client.SendAsync(Rescore($$"""{"asOf":"2026-11-22","reason":"{{new string('a', 501)}}"}""", key));
        var hugeBody = await client.SendAsync(Rescore($$"""{"asOf":"2026-11-22","reason":"a","pad":"{{new string('a', 10_000)}}"}""", key));

        Assert.Equal(HttpStatusCode.BadRequest, longReason.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, hugeBody.StatusCode);
    }

    [Fact]
    public async Task Rescores_beyond_the_rate_limit_get_429()
    {
        using var client = Service.CreateClient();
        string key = await KeyAsync("loop");

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 11; i++)
        {
            statuses.Add((await client.SendAsync(Rescore("""{"asOf":"2026-11-22","reason":"loop"}""", key))).StatusCode);
        }

        Assert.Equal(10, statuses.Count(s => s == HttpStatusCode.Accepted));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
    }

    [Fact]
    public async Task Runs_are_listed_and_an_unknown_run_is_a_404_problem()
    {
        using var client = Service.CreateClient();

        var list = await client.GetAsync("/api/runs");
        var missing = await client.GetAsync("/api/runs/999999");

        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Equal(0, (await list.Content.ReadFromJsonAsync<JsonElement>()).GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Liveness_answers_while_readiness_says_no_model_is_trained()
    {
        using var client = Service.CreateClient();

        var live = await client.GetAsync("/health/live");
        var ready = await client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }
}
