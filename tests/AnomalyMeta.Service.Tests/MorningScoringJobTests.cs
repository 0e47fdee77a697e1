using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
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

public sealed class MorningScoringJobTests : IAsyncLifetime
{
    private readonly PostgresFixture _database = new();

    public Task InitializeAsync() => _database.InitializeAsync();

    public Task DisposeAsync() => _database.DisposeAsync();

    [Fact]
    public async Task The_morning_job_runs_through_Quartz_with_its_schedule_kept_in_PostgreSQL()
    {
        var fleet = new SyntheticFleetOptions { SeriesCount = 150, HistoryDays = 14, Seed = 5 };
        using var host = BuildHost(("Scheduling:Cron", "0 30 5 * * ?"));
        var services = host.Services;
        await services.GetRequiredService<SyntheticFleetIngest>().IngestAsync(new SyntheticSeriesGenerator(fleet), CancellationToken.None);
        var lastHistoryDay = fleet.ScoringDay.AddDays(-1);
        await services.GetRequiredService<ClusteringStep>().RunAsync(lastHistoryDay, fleet.HistoryDays, CancellationToken.None);
        await services.GetRequiredService<MetaTrainingStep>().TrainAsync(lastHistoryDay,
            new TrainingOptions { Iterations = 50, HistoryDays = fleet.HistoryDays, MaxSeriesPerCluster = 100 }, CancellationToken.None);

        await host.StartAsync();
        var summary = await OnDemandRun.RunAsync(services.GetRequiredService<ISchedulerFactory>(),
            new ScoringRequest(RunKind.Nightly, fleet.ScoringDay, "service-test"), CancellationToken.None);
        // The succeeded run fires the day's dashboard summary: counts per tag value, made without anyone reading them.
        int? summarised = null;
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); summarised is null && waited.Elapsed < TimeSpan.FromMinutes(1); await Task.Delay(200))
        {
            await using var reader = await _database.DataSource.OpenConnectionAsync();
            summarised = await reader.ExecuteScalarAsync<int?>("select anomalies from anomaly_tag_count_day where as_of = @day", new { day = fleet.ScoringDay });
        }
        await host.StopAsync();

        Assert.True(summary.SeriesScored >= 140, $"{summary.SeriesScored} scored");
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        Assert.Equal(await connection.ExecuteScalarAsync<int>("select count(*) from anomaly where as_of = @day", new { day = fleet.ScoringDay }), summarised);
        Assert.Equal("service-test", await connection.ExecuteScalarAsync<string>("select triggered_by from run where run_id = @id", new { id = summary.RunId }));
        Assert.Equal("0 30 5 * * ?", await connection.ExecuteScalarAsync<string>(
            "select cron_expression from qrtz_cron_triggers where sched_name = 'anomalymeta' and trigger_name = 'morning'"));
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "select count(*) from qrtz_job_details where sched_name = 'anomalymeta' and job_name = 'morning-scoring'"));
    }

    [Fact]
    public async Task Runs_left_unfinished_are_finished_when_the_service_starts()
    {
        // Yesterday: the service finishes failed nightly runs of the last few days only.
        var fleet = new SyntheticFleetOptions
        {
            SeriesCount = 150, HistoryDays = 14, Seed = 6, ScoringDay = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-1),
        };
        using var host = BuildHost();
        var services = host.Services;
        await services.GetRequiredService<SyntheticFleetIngest>().IngestAsync(new SyntheticSeriesGenerator(fleet), CancellationToken.None);
        var lastHistoryDay = fleet.ScoringDay.AddDays(-1);
        await services.GetRequiredService<ClusteringStep>().RunAsync(lastHistoryDay, fleet.HistoryDays, CancellationToken.None);
        await services.GetRequiredService<MetaTrainingStep>().TrainAsync(lastHistoryDay,
            new TrainingOptions { Iterations = 30, HistoryDays = fleet.HistoryDays, MaxSeriesPerCluster = 100 }, CancellationToken.None);
        var ledger = services.GetRequiredService<RunLedger>();
        // A nightly run whose process died, and a rescore accepted but never run (the service stopped first).
        var nightly = await ledger.StartAsync(RunKind.Nightly, fleet.ScoringDay, "quartz:morning", null, 150, CancellationToken.None);
        var queued = await ledger.QueueAsync(fleet.ScoringDay.AddDays(-1), "apikey:on-call", "feed fixed", CancellationToken.None);

        await host.StartAsync();
        var finished = await WaitAsync(ledger, [nightly.Run.RunId, queued.RunId]);
        await host.StopAsync();

        Assert.All(finished, run => Assert.Equal(RunStatus.Succeeded, run.Status));
        Assert.All(finished, run => Assert.Equal(150, run.SeriesScored + run.SeriesSkipped));
    }

    private static async Task<List<ScoringRunRecord>> WaitAsync(RunLedger ledger, long[] runIds)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var runs = new List<ScoringRunRecord>();
            foreach (long runId in runIds)
            {
                runs.Add((await ledger.GetAsync(runId, CancellationToken.None))!);
            }
            if (runs.All(r => r.Status is RunStatus.Succeeded or RunStatus.Failed) || clock.Elapsed > TimeSpan.FromMinutes(2))
            {
                return runs;
            }
            await Task.Delay(100);
        }
    }

    [Fact]
    public void The_night_scored_is_the_day_before_the_scheduled_morning_in_the_schedule_time_zone_not_the_wall_clock()
    {
        var tokyo = TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo");

        // 23:30 UTC on the 29th is 08:30 on the 30th in Tokyo: the night of the 29th, whenever the job actually runs.
        Assert.Equal(new DateOnly(2026, 11, 29), MorningScoringJob.NightlyDate(new DateTimeOffset(2026, 11, 29, 23, 30, 0, TimeSpan.Zero), tokyo));
        Assert.Equal(new DateOnly(2026, 11, 28), MorningScoringJob.NightlyDate(new DateTimeOffset(2026, 11, 29, 6, 0, 0, TimeSpan.Zero), TimeZoneInfo.Utc));
    }

    [Fact]
    public void The_maintenance_jobs_last_night_is_the_morning_runs_night_in_the_schedule_time_zone()
    {
        // 20:45 UTC on the 29th is 05:45 on the 30th in Tokyo, when the assignment runs before that morning's run.
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 29, 20, 45, 0, TimeSpan.Zero));

        Assert.Equal(new DateOnly(2026, 11, 29), new MorningScheduleOptions { TimeZone = "Asia/Tokyo" }.LastNight(clock));
        Assert.Equal(new DateOnly(2026, 11, 28), new MorningScheduleOptions().LastNight(clock));
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    [Fact]
    public void An_invalid_cron_expression_is_refused_at_start_with_the_setting_named()
    {
        var error = Assert.Throws<InvalidOperationException>(() => BuildHost(("Scheduling:Cron", "every morning")));

        Assert.Contains("Scheduling:Cron", error.Message);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65")]
    public void A_thread_count_out_of_range_is_refused_at_start_with_the_setting_named(string threads)
    {
        var error = Assert.Throws<InvalidOperationException>(() => BuildHost(("Scheduling:MaxConcurrency", threads)));

        Assert.Contains($"Scheduling:MaxConcurrency must be in 1..64, found {threads}", error.Message);
    }

    private IHost BuildHost(params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:Postgres"] = _database.ConnectionString;
        foreach (var (key, value) in settings)
        {
            builder.Configuration[key] = value;
        }
        builder.Services.AddAnomalyMeta(builder.Configuration);
        builder.Services.AddQuartzHostedService(options => options.WaitForJobsToComplete = true);
        builder.Services.AddHostedService<UnfinishedRuns>();
        return builder.Build();
    }
}
