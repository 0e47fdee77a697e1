using System.Text.Json;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Service.Alerts;
using AnomalyMeta.Service.Hosting;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Quartz;

namespace AnomalyMeta.Service.Tests;

/// <summary>
/// Alert routing against the fleet scored by the real pipeline: webhooks received by a real HTTP server on 127.0.0.1,
/// deliveries checked against the anomaly rows and the alert_delivery ledger. Each test has routes of its own names, so
/// the ledger rows of one never settle another's.
/// </summary>
[Collection(ScoredFleetTests.Name)]
public sealed class AlertDeliveryTests(ScoredFleetFixture fleet) : IAsyncLifetime
{
    private WebhookReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await WebhookReceiver.StartAsync();

    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    [Fact]
    public async Task Each_route_gets_one_post_of_the_runs_flags_it_matches_retried_past_failures_and_a_route_matching_nothing_gets_none()
    {
        string payments = await fleet.MostFlaggedSeriesAsync();
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""update series set tags = tags || '{"alert_team": "payments"}' where series_key = @payments""", new { payments });
        _receiver.Fail("all", 2);
        using var host = BuildHost(
            Route(0, "all", _receiver.Url("all")),
            Route(1, "payments", _receiver.Url("payments"), ("Tags:alert_team", "payments"), ("MinScore", "0.6")),
            Route(2, "nobody", _receiver.Url("nobody"), ("Tags:alert_team", "nobody")));
        var dispatcher = host.Services.GetRequiredService<AlertDispatcher>();
        long runId = fleet.Run.RunId;

        var first = await dispatcher.DeliverOwedAsync(CancellationToken.None);
        var again = await dispatcher.DeliverOwedAsync(CancellationToken.None);

        var stored = (await connection.QueryAsync<(string SeriesKey, DateTime Ts, float Value, float Forecast, float Lower, float Upper, float Score)>(
            """
            select s.series_key, a.ts, a.value, a.forecast, a.lower_band, a.upper_band, a.score
            from anomaly a join series s using (series_id) where a.run_id = @runId and not a.muted order by s.series_key, a.ts
            """, new { runId })).ToList();
        Assert.NotEmpty(stored);

        // "all": two 500s, then delivered by the third attempt of the same post, carrying every flag of the run.
        var all = OfRun(_receiver.Received("all"), runId);
        Assert.Equal([500, 500, 200], all.Select(h => h.Status));
        Assert.Single(all.Select(h => h.IdempotencyKey).Distinct());
        var body = all[^1].Body;
        Assert.Equal(runId, body.GetProperty("runId").GetInt64());
        Assert.Equal("2026-11-22", body.GetProperty("asOf").GetString());
        Assert.Equal("all", body.GetProperty("route").GetString());
        Assert.Equal(stored.Count, body.GetProperty("flagCount").GetInt32());
        Assert.Equal(stored, Anomalies(body));

        // "payments": only the tagged series' flags of at least 0.6, each with the series' tags.
        var paymentsPost = Assert.Single(OfRun(_receiver.Received("payments"), runId));
        Assert.Equal(stored.Where(f => f.SeriesKey == payments && f.Score >= 0.6f), Anomalies(paymentsPost.Body));
        Assert.All(paymentsPost.Body.GetProperty("anomalies").EnumerateArray(),
            a => Assert.Equal("payments", a.GetProperty("tags").GetProperty("alert_team").GetString()));

        // "nobody": no series has its tag, so nothing is posted, and the ledger says it was considered.
        Assert.Empty(_receiver.Received("nobody"));

        var deliveries = (await new AlertDeliveries(fleet.DataSource).OfRunAsync(runId, CancellationToken.None)).ToDictionary(d => d.Route);
        Assert.Equal((AlertOutcome.Delivered, 3, 200, stored.Count), (deliveries["all"].Outcome, deliveries["all"].Attempts, deliveries["all"].StatusCode, deliveries["all"].FlagCount));
        Assert.NotNull(deliveries["all"].DeliveredAt);
        Assert.Null(deliveries["all"].Error);
        Assert.Equal((AlertOutcome.Delivered, 1), (deliveries["payments"].Outcome, deliveries["payments"].Attempts));
        Assert.Equal([await SeriesIdAsync(connection, payments)], deliveries["payments"].SeriesIds);
        Assert.Equal((AlertOutcome.Empty, 0, (int?)null, (DateTime?)null), (deliveries["nobody"].Outcome, deliveries["nobody"].Attempts, deliveries["nobody"].StatusCode, deliveries["nobody"].DeliveredAt));

        // A second pass owes nothing: every route of every run is settled.
        Assert.True(first.Delivered >= 2, $"{first}");
        Assert.Equal(new AlertPass(0, 0, 0), again);
        Assert.Equal(3, OfRun(_receiver.Received("all"), runId).Count);
    }

    [Fact]
    public async Task Muted_flags_are_left_out_of_the_posts()
    {
        long runId = fleet.Run.RunId;
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        // Not the most flagged series: the first test tags that one, and each test must hold whatever order they run in.
        string muted = await connection.ExecuteScalarAsync<string>(
            """
            select s.series_key from anomaly a join series s using (series_id) where a.run_id = @runId
            group by s.series_key order by count(*) desc, s.series_key offset 1 limit 1
            """, new { runId }) ?? throw new InvalidOperationException("the run flagged fewer than two series");
        var mutes = new MuteStore(fleet.DataSource);
        var mute = await mutes.MuteAsync(muted, null, null, "alert test: known maintenance", "test", CancellationToken.None);
        try
        {
            using var host = BuildHost(Route(0, "quiet", _receiver.Url("quiet")));
            await host.Services.GetRequiredService<AlertDispatcher>().DeliverOwedAsync(CancellationToken.None);

            var posted = Anomalies(Assert.Single(OfRun(_receiver.Received("quiet"), runId)).Body);
            int all = await connection.ExecuteScalarAsync<int>("select count(*) from anomaly where run_id = @runId", new { runId });
            int ofMuted = await connection.ExecuteScalarAsync<int>(
                "select count(*) from anomaly a join series s using (series_id) where a.run_id = @runId and s.series_key = @muted", new { runId, muted });
            Assert.True(ofMuted > 0);
            Assert.DoesNotContain(posted, a => a.Item1 == muted);
            Assert.Equal(all - ofMuted, posted.Count);
        }
        finally
        {
            await mutes.LiftAsync(mute.MuteId, CancellationToken.None);
        }
    }

    [Fact]
    public async Task After_a_restart_a_route_that_failed_is_delivered_and_a_delivered_route_is_not_sent_again()
    {
        long runId = fleet.Run.RunId;
        _receiver.Fail("flaky", -1);
        using (var before = BuildHost(Route(0, "steady", _receiver.Url("steady")), Route(1, "flaky", _receiver.Url("flaky")), ("Alerts:Attempts", "2")))
        {
            await before.Services.GetRequiredService<AlertDispatcher>().DeliverOwedAsync(CancellationToken.None);
        }
        var failed = (await new AlertDeliveries(fleet.DataSource).OfRunAsync(runId, CancellationToken.None)).Single(d => d.Route == "flaky");
        Assert.Equal((AlertOutcome.Failed, 2, 500), (failed.Outcome, failed.Attempts, failed.StatusCode));
        Assert.Contains("HTTP 500", failed.Error, StringComparison.Ordinal);
        Assert.Null(failed.DeliveredAt);
        int steadyPosts = _receiver.Received("steady").Count;
        Assert.Single(OfRun(_receiver.Received("steady"), runId));

        // The webhook is back; the service starts again, and its first delivery pass runs through Quartz at start.
        _receiver.Fail("flaky", 0);
        using var after = BuildHost(Route(0, "steady", _receiver.Url("steady")), Route(1, "flaky", _receiver.Url("flaky")), ("Alerts:Attempts", "2"));
        await after.StartAsync();
        var delivered = await WaitForAsync(async () =>
            (await new AlertDeliveries(fleet.DataSource).OfRunAsync(runId, CancellationToken.None)).SingleOrDefault(d => d.Route == "flaky" && d.Outcome == AlertOutcome.Delivered));
        await after.StopAsync();

        Assert.Equal((3, 200), (delivered.Attempts, delivered.StatusCode));
        Assert.Equal(200, OfRun(_receiver.Received("flaky"), runId)[^1].Status);
        Assert.Equal(steadyPosts, _receiver.Received("steady").Count);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    public async Task A_run_that_succeeds_in_the_service_fires_its_delivery_whole_or_sharded(int shards, int daysAfter)
    {
        // A day without data: the run succeeds with every series no_data, so each route is settled as empty.
        var day = ScoredFleetFixture.ScoringDay.AddDays(daysAfter);
        string route = $"hook{shards}";
        var deliveries = new AlertDeliveries(fleet.DataSource);
        // The periodic pass runs once at start and then not for ten hours: what it owes now, it settles first.
        var before = await deliveries.SucceededSinceAsync(DateTimeOffset.UtcNow.AddDays(-1), CancellationToken.None);
        using var host = BuildHost(Route(0, route, _receiver.Url(route)), ("Alerts:SweepMinutes", "600"), ("Scoring:Shards", shards.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await host.StartAsync();
        foreach (var run in before)
        {
            await WaitForAsync(async () => (await deliveries.OfRunAsync(run.RunId, CancellationToken.None)).FirstOrDefault(d => d.Route == route));
        }

        var summary = await OnDemandRun.RunAsync(host.Services.GetRequiredService<ISchedulerFactory>(),
            new ScoringRequest(RunKind.Nightly, day, "alert-test"), CancellationToken.None);
        var delivery = await WaitForAsync(async () => (await deliveries.OfRunAsync(summary.RunId, CancellationToken.None)).FirstOrDefault(d => d.Route == route));
        await host.StopAsync();

        Assert.Equal(RunStatus.Succeeded, (await fleet.Fleet.Ledger.GetAsync(summary.RunId, CancellationToken.None))!.Status);
        Assert.Equal(AlertOutcome.Empty, delivery.Outcome);
        Assert.Empty(OfRun(_receiver.Received(route), summary.RunId));
    }

    private static List<ReceivedHook> OfRun(IReadOnlyList<ReceivedHook> hooks, long runId) =>
        [.. hooks.Where(h => h.Body.GetProperty("runId").GetInt64() == runId)];

    private static List<(string, DateTime, float, float, float, float, float)> Anomalies(JsonElement body) =>
        [.. body.GetProperty("anomalies").EnumerateArray().Select(a => (
            a.GetProperty("seriesKey").GetString()!,
            a.GetProperty("ts").GetDateTime().ToUniversalTime(),
            a.GetProperty("value").GetSingle(),
            a.GetProperty("forecast").GetSingle(),
            a.GetProperty("band").GetProperty("lower").GetSingle(),
            a.GetProperty("band").GetProperty("upper").GetSingle(),
            a.GetProperty("score").GetSingle()))];

    private static Task<int> SeriesIdAsync(Npgsql.NpgsqlConnection connection, string key) =>
        connection.ExecuteScalarAsync<int>("select series_id from series where series_key = @key", new { key });

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe)
        where T : class
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (await probe() is T found)
            {
                return found;
            }
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "waited two minutes in vain");
            await Task.Delay(100);
        }
    }

    private static (string, string)[] Route(int index, string name, string url, params (string Key, string Value)[] more) =>
        [($"Alerts:Routes:{index}:Name", name), ($"Alerts:Routes:{index}:Url", url), .. more.Select(m => ($"Alerts:Routes:{index}:{m.Key}", m.Value))];

    private IHost BuildHost(params object[] settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:Postgres"] = fleet.ConnectionString;
        // Retries a few milliseconds apart: the backoff is Polly's, its length is not what is tested.
        builder.Configuration["Alerts:RetryDelaySeconds"] = "0.01";
        foreach (var setting in settings)
        {
            foreach (var (key, value) in setting switch
            {
                (string, string)[] many => many,
                ValueTuple<string, string> one => [one],
                _ => throw new ArgumentException($"not a setting: {setting}"),
            })
            {
                builder.Configuration[key] = value;
            }
        }
        builder.Services.AddAnomalyMeta(builder.Configuration);
        builder.Services.AddQuartzHostedService(options => options.WaitForJobsToComplete = true);
        return builder.Build();
    }
}
