using System.Diagnostics;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Service.Hosting;
using AnomalyMeta.Testing;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AnomalyMeta.Cli.Tests;

/// <summary>
/// `score` as separate processes against one database: killed mid-run and run again, or two at once for one date.
/// Either way every series ends with exactly one outcome and the run's counters match its rows.
/// </summary>
public sealed class RunOwnershipTests : IAsyncLifetime
{
    private const int Series = 1200;
    private readonly PostgresFixture _database = new();
    private readonly SyntheticFleetOptions _fleet = new() { SeriesCount = Series, HistoryDays = 14, Seed = 11 };

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:Postgres"] = _database.ConnectionString;
        builder.Services.AddAnomalyMeta(builder.Configuration);
        using var host = builder.Build();
        var services = host.Services;
        await services.GetRequiredService<SyntheticFleetIngest>().IngestAsync(new SyntheticSeriesGenerator(_fleet), CancellationToken.None);
        var lastHistoryDay = _fleet.ScoringDay.AddDays(-1);
        await services.GetRequiredService<ClusteringStep>().RunAsync(lastHistoryDay, _fleet.HistoryDays, CancellationToken.None);
        await services.GetRequiredService<MetaTrainingStep>().TrainAsync(lastHistoryDay,
            new TrainingOptions { Iterations = 30, HistoryDays = _fleet.HistoryDays, MaxSeriesPerCluster = 100 }, CancellationToken.None);
    }

    public Task DisposeAsync() => _database.DisposeAsync();

    // Small batches and many adaptation steps: a run of many commits, slow enough to be killed in the middle.
    private Dictionary<string, string> Environment() => new()
    {
        ["ConnectionStrings__Postgres"] = _database.ConnectionString,
        ["Scoring__BatchSize"] = "20",
        ["Scoring__AdaptationSteps"] = "40",
    };

    private string Day => _fleet.ScoringDay.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_run_killed_mid_way_resumes_and_every_series_is_scored_exactly_once()
    {
        using (var doomed = CliProcess.Start(Environment(), "score", "--as-of", Day))
        {
            await using var connection = await _database.DataSource.OpenConnectionAsync();
            await WaitForBatchesAsync(doomed, connection);
            doomed.Kill(entireProcessTree: true);
            await doomed.WaitForExitAsync();
            Assert.Equal("running", await connection.ExecuteScalarAsync<string>("select status from run where kind = 'nightly'"));
            Assert.InRange(await connection.ExecuteScalarAsync<int>("select count(*) from run_series"), 1, Series - 1);
        }

        var rerun = await CliProcess.RunAsync(Environment(), "score", "--as-of", Day);

        Assert.True(rerun.ExitCode == 0, rerun.Error);
        await AssertExactlyOnceAsync();
    }

    [Fact]
    public async Task Sigterm_ends_the_run_as_resumable_with_exit_130_and_the_rerun_finishes_it_exactly_once()
    {
        using (var stopped = CliProcess.Start(Environment(), "score", "--as-of", Day))
        {
            await using var connection = await _database.DataSource.OpenConnectionAsync();
            await WaitForBatchesAsync(stopped, connection);
            using (var term = Process.Start("kill", ["-TERM", stopped.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }
            await stopped.WaitForExitAsync();
            string error = await stopped.StandardError.ReadToEndAsync();

            Assert.Equal(130, stopped.ExitCode);
            Assert.DoesNotContain("Unhandled exception", error, StringComparison.Ordinal);
            Assert.Equal("failed", await connection.ExecuteScalarAsync<string>("select status from run where kind = 'nightly'"));
        }

        var rerun = await CliProcess.RunAsync(Environment(), "score", "--as-of", Day);

        Assert.True(rerun.ExitCode == 0, rerun.Error);
        await AssertExactlyOnceAsync();
    }

    [Fact]
    public async Task A_night_scored_before_any_data_arrived_exits_3_and_says_so()
    {
        string empty = _fleet.ScoringDay.AddDays(3).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

        var result = await CliProcess.RunAsync(Environment(), "score", "--as-of", empty);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains($"{Series:N0} of {Series:N0} series had no data", result.Error, StringComparison.Ordinal);
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        Assert.Contains("most series had no data", await connection.ExecuteScalarAsync<string>("select error from run"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_processes_for_one_date_score_it_once_and_the_loser_says_why()
    {
        var first = CliProcess.RunAsync(Environment(), "score", "--as-of", Day);
        var second = CliProcess.RunAsync(Environment(), "score", "--as-of", Day);
        var results = await Task.WhenAll(first, second);

        // One scores; the other either found the date's lock taken (and says so, non-zero) or came after it finished.
        Assert.Contains(results, r => r.ExitCode == 0 && r.Output.Contains("series scored", StringComparison.Ordinal));
        foreach (var result in results.Where(r => !r.Output.Contains("series scored", StringComparison.Ordinal)))
        {
            Assert.True(
                (result.ExitCode != 0 && result.Error.Contains("Another process is scoring", StringComparison.Ordinal))
                || (result.ExitCode == 0 && result.Output.Contains("had already succeeded", StringComparison.Ordinal)),
                result.Output + result.Error);
        }
        await AssertExactlyOnceAsync();
    }

    /// <summary>Waits until the scoring process has committed 3 batches, so what happens to it next happens mid-run.</summary>
    private static async Task WaitForBatchesAsync(Process scoring, Npgsql.NpgsqlConnection connection)
    {
        var clock = Stopwatch.StartNew();
        while (await connection.ExecuteScalarAsync<int?>("select batches_done from run where kind = 'nightly'") is not >= 3)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "the run never committed 3 batches");
            Assert.False(scoring.HasExited, "the run ended before it could be interrupted");
            await Task.Delay(10);
        }
    }

    private async Task AssertExactlyOnceAsync()
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        var run = await connection.QuerySingleAsync<(long RunId, string Status, int Scored, int Skipped, int Anomalies)>(
            "select run_id, status, series_scored, series_skipped, anomalies_written from run where kind = 'nightly'");
        Assert.Equal("succeeded", run.Status);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("select count(*) from run"));
        Assert.Equal(Series, await connection.ExecuteScalarAsync<int>("select count(*) from run_series where run_id = @RunId", new { run.RunId }));
        Assert.Equal(Series, run.Scored + run.Skipped);
        Assert.Equal(run.Scored, await connection.ExecuteScalarAsync<int>("select count(*) from run_series where run_id = @RunId and status = 'scored'", new { run.RunId }));
        Assert.Equal(run.Anomalies, await connection.ExecuteScalarAsync<int>("select count(*) from anomaly"));
        Assert.Equal(run.Anomalies, await connection.ExecuteScalarAsync<int>("select coalesce(sum(anomaly_count), 0)::int from run_series where run_id = @RunId", new { run.RunId }));
    }
}
