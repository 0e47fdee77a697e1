using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using AnomalyMeta.Testing;
using Dapper;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace AnomalyMeta.Service.Tests;

/// <summary>
/// The model lifecycle through the real service on a scored fleet: which model scores each cluster, an operator's
/// rollback and unpin, and the maintenance jobs fired through the scheduler with their ledger rows.
/// </summary>
public sealed class ModelLifecycleTests(ScoredFleetFixture fleet) : IClassFixture<ScoredFleetFixture>, IAsyncLifetime
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private WebApplicationFactory<Program> _service = null!;

    public Task InitializeAsync()
    {
        _service = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("ConnectionStrings:Postgres", fleet.ConnectionString)
            .UseSetting("Training:Iterations", "30"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task A_rollback_pins_the_previous_model_scoring_uses_it_and_an_unpin_brings_the_newest_back()
    {
        var models = new ModelStore(fleet.DataSource);
        var live = (await new ClusteringStore(fleet.DataSource).LoadLiveAsync(CancellationToken.None))!;
        var first = (await models.LoadLatestAsync(live.Version, CancellationToken.None))[0];
        int second = await models.SaveAsync(live.Version, first.ClusterId, first.Algorithm, first.ConfigurationJson, first.MetricsJson, first.Checkpoint,
            CancellationToken.None);
        var client = _service.CreateClient();
        string key = await _service.Services.GetRequiredService<ApiKeyStore>().CreateAsync("ops", CancellationToken.None);
        string body = JsonSerializer.Serialize(new { clustering = live.Version, cluster = first.ClusterId, reason = "v2 flags every weekend" });

        var before = await ScoringModelOfAsync(client, live.Version, first.ClusterId);
        var anonymous = await client.PostAsync("/api/models/rollback", new StringContent(body, Encoding.UTF8, "application/json"));
        var rolledBack = await client.SendAsync(Keyed(HttpMethod.Post, "/api/models/rollback", key, body));
        var afterRollback = await ScoringModelOfAsync(client, live.Version, first.ClusterId);
        var scoringUses = (await models.LoadLatestAsync(live.Version, CancellationToken.None)).Single(m => m.ClusterId == first.ClusterId).ModelId;
        var nothingEarlier = await client.SendAsync(Keyed(HttpMethod.Post, "/api/models/rollback", key, body));
        var unpinned = await client.SendAsync(Keyed(HttpMethod.Delete, $"/api/models/pins/{live.Version}/{first.ClusterId}", key, null));
        var afterUnpin = await ScoringModelOfAsync(client, live.Version, first.ClusterId);

        Assert.Equal(second, before.ModelId);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rolledBack.StatusCode);
        Assert.Equal((first.ModelId, "apikey:ops", "v2 flags every weekend"), (afterRollback.ModelId, afterRollback.PinnedBy, afterRollback.PinReason));
        Assert.Equal(first.ModelId, scoringUses);
        Assert.Equal(HttpStatusCode.Conflict, nothingEarlier.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, unpinned.StatusCode);
        Assert.Equal((second, null), (afterUnpin.ModelId, afterUnpin.PinnedBy));
    }

    [Fact]
    public async Task The_assignment_and_retraining_jobs_fired_by_the_scheduler_put_a_new_clustering_live_and_record_what_they_did()
    {
        var clusterings = new ClusteringStore(fleet.DataSource);
        int before = (await clusterings.LoadLiveAsync(CancellationToken.None))!.Version;
        var scheduler = await _service.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();

        await scheduler.TriggerJob(AssignNewSeriesJob.Key);
        var assign = await FinishedJobAsync("assign");
        await scheduler.TriggerJob(RetrainJob.Key);
        var retrain = await FinishedJobAsync("retrain");
        var jobs = await _service.CreateClient().GetFromJsonAsync<JsonElement>("/api/jobs");

        Assert.Equal("succeeded", assign.Status);
        // The young series joined after the fleet's clustering: it is assigned now.
        Assert.True(JsonDocument.Parse(assign.Detail).RootElement.GetProperty("assigned").GetInt32() >= 1, assign.Detail);
        Assert.Equal("succeeded", retrain.Status);
        var detail = JsonDocument.Parse(retrain.Detail).RootElement;
        int clustering = detail.GetProperty("clustering").GetInt32();
        Assert.True(clustering > before);
        Assert.Equal(clustering, detail.GetProperty("live").GetInt32());
        Assert.Equal(clustering, (await clusterings.LoadLiveAsync(CancellationToken.None))!.Version);
        Assert.Contains(jobs.EnumerateArray(), job => job.GetProperty("kind").GetString() == "retrain" && job.GetProperty("status").GetString() == "succeeded");
    }

    [Fact]
    public async Task A_job_run_asked_for_over_http_runs_now_and_its_ledger_line_says_who_asked_and_why()
    {
        var client = _service.CreateClient();
        string key = await _service.Services.GetRequiredService<ApiKeyStore>().CreateAsync("oncall", CancellationToken.None);
        const string Body = """{"reason": "new feed onboarded"}""";

        using var anonymous = await client.PostAsync("/api/jobs/drift-check/trigger", new StringContent(Body, Encoding.UTF8, "application/json"));
        using var unknown = await client.SendAsync(Keyed(HttpMethod.Post, "/api/jobs/morning-scoring/trigger", key, Body));
        using var reasonless = await client.SendAsync(Keyed(HttpMethod.Post, "/api/jobs/drift-check/trigger", key, "{}"));
        using var accepted = await client.SendAsync(Keyed(HttpMethod.Post, "/api/jobs/drift-check/trigger", key, Body));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("recluster-and-retrain", await unknown.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, reasonless.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        string trigger = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("trigger").GetString()!;
        var jobs = new JobRuns(fleet.DataSource);
        JobRunLine? line = null;
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); line is null && waited.Elapsed < TimeSpan.FromMinutes(5); await Task.Delay(250))
        {
            line = (await jobs.RecentAsync(50, CancellationToken.None)).FirstOrDefault(j => j.TriggeredBy.Contains(trigger, StringComparison.Ordinal) && j.Status != "running");
        }
        Assert.NotNull(line);
        Assert.Equal(("drift", "succeeded"), (line.Kind, line.Status));
        Assert.StartsWith($"apikey:oncall: new feed onboarded via quartz:{trigger}@", line.TriggeredBy, StringComparison.Ordinal);
        // Exactly one execution for one request.
        Assert.Single(await jobs.RecentAsync(100, CancellationToken.None), j => j.TriggeredBy.Contains(trigger, StringComparison.Ordinal));
    }

    private async Task<JobRunLine> FinishedJobAsync(string kind)
    {
        var jobs = new JobRuns(fleet.DataSource);
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromMinutes(5); await Task.Delay(250))
        {
            if ((await jobs.RecentAsync(20, CancellationToken.None)).FirstOrDefault(j => j.Kind == kind && j.Status != "running") is { } done)
            {
                return done;
            }
        }
        throw new TimeoutException($"No finished '{kind}' job within 5 minutes.");
    }

    private static async Task<ModelLine> ScoringModelOfAsync(HttpClient client, int clustering, int cluster)
    {
        var lines = await client.GetFromJsonAsync<List<ModelLine>>("/api/models", Json);
        return lines!.Single(m => m.ClusteringVersion == clustering && m.ClusterId == cluster && m.Scoring);
    }

    private static HttpRequestMessage Keyed(HttpMethod method, string path, string key, string? body)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        request.Headers.Add("X-Api-Key", key);
        return request;
    }
}
