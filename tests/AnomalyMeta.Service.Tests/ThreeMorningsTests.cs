using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace AnomalyMeta.Service.Tests;

/// <summary>
/// The service running itself for three mornings, its clock set by the test and every job fired through Quartz by
/// hand as its cron would: each day's data arrives over HTTP, new series are assigned, the night is scored, and on the
/// third morning the weekly re-clustering and retraining runs. Nobody runs a command.
/// </summary>
public sealed class ThreeMorningsTests : IAsyncLifetime
{
    private static readonly DateOnly FirstMorning = new(2026, 3, 2);
    private const string Parked = "0 0 6 1 1 ? 2099";
    private readonly PostgresFixture _database = new();
    private readonly ManualClock _clock = new();
    private WebApplicationFactory<Program> _service = null!;

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        _service = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("ConnectionStrings:Postgres", _database.ConnectionString)
            .UseSetting("Training:Iterations", "40")
            .UseSetting("Training:HistoryDays", "21")
            // Quartz keeps time by the service's TimeProvider, which the test moves: the schedules are parked in 2099 so
            // that every job fires when the test fires it, as its cron would on the day the clock says.
            .UseSetting("Scheduling:Cron", Parked)
            .UseSetting("Scheduling:AssignCron", Parked)
            .UseSetting("Scheduling:RetrainCron", Parked)
            .UseSetting("Scheduling:DriftCron", Parked)
            .ConfigureTestServices(services => services.AddSingleton<TimeProvider>(_clock)));
    }

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task A_series_ingested_through_the_api_is_scored_the_next_morning_and_the_weekly_retraining_puts_a_new_clustering_live()
    {
        // The fleet's last generated day is the night the third morning scores.
        var fleet = new SyntheticFleetOptions { SeriesCount = 150, HistoryDays = 23, Seed = 9, ScoringDay = FirstMorning.AddDays(1) };
        var generated = Enumerable.Range(0, fleet.SeriesCount).Select(new SyntheticSeriesGenerator(fleet).Generate).ToList();
        var client = _service.CreateClient();
        string key = await _service.Services.GetRequiredService<ApiKeyStore>().CreateAsync("feed", CancellationToken.None);
        var scheduler = await _service.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();

        // Before the first morning: the history so far arrives and the weekly job has run once (the service's first week).
        _clock.Today = FirstMorning.AddDays(-1);
        await IngestAsync(client, key, generated, fleet.FirstDay, FirstMorning.AddDays(-2), fleet);
        await FireAsync(scheduler, RetrainJob.Key, "retrain");
        int firstClustering = (await new ClusteringStore(_database.DataSource).LoadLiveAsync(CancellationToken.None))!.Version;

        var newSeriesOutcomes = new List<SeriesRunLine>();
        var runs = new List<ScoringRunRecord>();
        for (int morning = 0; morning < 3; morning++)
        {
            var today = FirstMorning.AddDays(morning);
            var night = today.AddDays(-1);
            _clock.Today = today;
            // The night's data arrives over HTTP; on the first morning a series nobody has seen before comes with it
            // (with the day before), and it keeps reporting.
            await IngestAsync(client, key, generated, night, night, fleet);
            await PostAsync(client, key, NewSeriesCsv(morning == 0 ? night.AddDays(-1) : night, night));
            await FireAsync(scheduler, AssignNewSeriesJob.Key, "assign");
            await scheduler.TriggerJob(MorningScoringJob.Key, MorningScoringJob.DataFor(new ScoringRequest(RunKind.Nightly, night, "quartz:morning")));
            var run = await NightlyRunAsync(night);
            runs.Add(run);
            var lines = await new AnomalyQueries(_database.DataSource).SeriesOfRunAsync(run.RunId, CancellationToken.None);
            var outcome = lines.SingleOrDefault(l => l.SeriesKey == "arrived/late");
            Assert.True(outcome is not null, $"morning {morning}: run {run.RunId} of {run.AsOf} has {lines.Count} series and not the new one");
            newSeriesOutcomes.Add(outcome);
            if (morning == 2)
            {
                await FireAsync(scheduler, RetrainJob.Key, "retrain");
            }
        }

        Assert.All(runs, run => Assert.Equal(fleet.SeriesCount + 1, run.SeriesScored + run.SeriesSkipped));
        Assert.All(runs, run => Assert.True(run.SeriesScored >= fleet.SeriesCount, $"run {run.RunId}: {run.SeriesScored} scored"));
        // Ingested over HTTP the night before the first morning, scored that morning: no manual step in between.
        Assert.All(newSeriesOutcomes, line => Assert.Equal("scored", line.Status));
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        var jobs = (await connection.QueryAsync<(string Kind, string Status, string Detail)>(
            "select kind, status, detail::text from job_run order by job_run_id")).ToList();
        Assert.Equal(["retrain", "assign", "assign", "assign", "retrain"], jobs.Select(j => j.Kind));
        Assert.All(jobs, job => Assert.Equal("succeeded", job.Status));
        Assert.Equal(1, JsonDocument.Parse(jobs[1].Detail).RootElement.GetProperty("assigned").GetInt32());
        int live = (await new ClusteringStore(_database.DataSource).LoadLiveAsync(CancellationToken.None))!.Version;
        Assert.True(live > firstClustering, $"live clustering {live}, first {firstClustering}");
        Assert.Equal(live, JsonDocument.Parse(jobs[^1].Detail).RootElement.GetProperty("live").GetInt32());
        // Each morning's run says which clustering scored it: the first one, until the weekly retraining.
        var recorded = await connection.QueryAsync<int>("select clustering_version from run where kind = 'nightly' order by as_of");
        Assert.All(recorded, version => Assert.Equal(firstClustering, version));
    }

    private static async Task IngestAsync(HttpClient client, string key, IReadOnlyList<SyntheticSeries> generated, DateOnly from, DateOnly to,
        SyntheticFleetOptions fleet)
    {
        var csv = new StringBuilder("series_key,timestamp,value\n");
        int perDay = fleet.PointsPerDay;
        foreach (var series in generated)
        {
            for (var day = from; day <= to; day = day.AddDays(1))
            {
                int offset = (day.DayNumber - fleet.FirstDay.DayNumber) * perDay;
                for (int p = 0; p < perDay; p++)
                {
                    float value = series.Values[offset + p];
                    var ts = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc).AddHours(p * 24.0 / perDay);
                    csv.Append(CultureInfo.InvariantCulture, $"{series.Key},{ts:yyyy-MM-ddTHH:mm:ssZ},{(float.IsNaN(value) ? "" : value.ToString("R", CultureInfo.InvariantCulture))}\n");
                }
            }
        }
        await PostAsync(client, key, csv.ToString());
    }

    /// <summary>Two days of a smooth daily cycle: enough for the generic model from its second day.</summary>
    private static string NewSeriesCsv(DateOnly first, DateOnly last)
    {
        var csv = new StringBuilder("series_key,timestamp,value\n");
        for (var day = first; day <= last; day = day.AddDays(1))
        {
            for (int hour = 0; hour < 24; hour++)
            {
                var ts = day.ToDateTime(new TimeOnly(hour, 0), DateTimeKind.Utc);
                csv.Append(CultureInfo.InvariantCulture, $"arrived/late,{ts:yyyy-MM-ddTHH:mm:ssZ},{100 + (10 * Math.Sin(2 * Math.PI * hour / 24)):F3}\n");
            }
        }
        return csv.ToString();
    }

    private static async Task PostAsync(HttpClient client, string key, string csv)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/observations") { Content = new StringContent(csv, Encoding.UTF8, "text/csv") };
        request.Headers.Add("X-Api-Key", key);
        using var response = await client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The nightly run of <paramref name="night"/> once it has ended (the morning job was fired through Quartz).</summary>
    private async Task<ScoringRunRecord> NightlyRunAsync(DateOnly night)
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromMinutes(5); await Task.Delay(200))
        {
            long? runId = await connection.ExecuteScalarAsync<long?>(
                "select run_id from run where kind = 'nightly' and as_of = @night and status in ('succeeded', 'failed')", new { night });
            if (runId is long id)
            {
                var run = (await new RunLedger(_database.DataSource).GetAsync(id, CancellationToken.None))!;
                Assert.True(run.Status == RunStatus.Succeeded, run.Error);
                return run;
            }
        }
        throw new TimeoutException($"The nightly run of {night:yyyy-MM-dd} did not end within 5 minutes.");
    }

    /// <summary>Fires a maintenance job as its cron would and waits for its ledger row to finish.</summary>
    private async Task FireAsync(IScheduler scheduler, JobKey job, string kind)
    {
        var jobs = new JobRuns(_database.DataSource);
        int before = (await jobs.RecentAsync(500, CancellationToken.None)).Count(j => j.Kind == kind);
        await scheduler.TriggerJob(job);
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromMinutes(5); await Task.Delay(200))
        {
            var finished = (await jobs.RecentAsync(500, CancellationToken.None)).Where(j => j.Kind == kind && j.Status != "running").ToList();
            if (finished.Count > before)
            {
                Assert.True(finished[0].Status == "succeeded", finished[0].Error);
                return;
            }
        }
        throw new TimeoutException($"The {kind} job did not finish within 5 minutes.");
    }

    private sealed class ManualClock : TimeProvider
    {
        public DateOnly Today { get; set; } = new(2026, 3, 1);

        public override DateTimeOffset GetUtcNow() => new(Today.ToDateTime(new TimeOnly(6, 0)), TimeSpan.Zero);
    }
}
