using System.Globalization;
using System.Net;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace AnomalyMeta.Service.Tests;

/// <summary>The Prometheus scrape endpoint of the service, served in process against a throwaway database, with Quartz running.</summary>
public sealed class MetricsTests : ServiceOnThrowawayDatabase
{

    [Fact]
    public async Task After_a_run_metrics_shows_its_runs_batches_series_and_anomalies_with_http_and_npgsql_metrics()
    {
        var fleet = new SyntheticFleetOptions { SeriesCount = 150, HistoryDays = 14, Seed = 7 };
        var services = Service.Services;
        await services.GetRequiredService<SyntheticFleetIngest>().IngestAsync(new SyntheticSeriesGenerator(fleet), CancellationToken.None);
        var lastHistoryDay = fleet.ScoringDay.AddDays(-1);
        await services.GetRequiredService<ClusteringStep>().RunAsync(lastHistoryDay, fleet.HistoryDays, CancellationToken.None);
        await services.GetRequiredService<MetaTrainingStep>().TrainAsync(lastHistoryDay,
            new TrainingOptions { Iterations = 30, HistoryDays = fleet.HistoryDays, MaxSeriesPerCluster = 100 }, CancellationToken.None);
        using var client = Service.CreateClient();

        var summary = await OnDemandRun.RunAsync(services.GetRequiredService<ISchedulerFactory>(),
            new ScoringRequest(RunKind.Nightly, fleet.ScoringDay, "metrics-test"), CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/runs")).StatusCode);
        // The HTTP duration is recorded as the request ends, after the client has its answer, and the exporter
        // caches a scrape briefly: scrape until that request shows up.
        var samples = await ScrapeAsync(client, s => s.Any(m => m.Name == "http_server_request_duration_seconds_count" && m.Labels.Contains("http_route=\"/api/runs/\"", StringComparison.Ordinal)));

        // Other tests of this process may score too (the meter is process-wide): this run's figures are a floor.
        Assert.True(summary.SeriesScored > 0, $"{summary.SeriesScored} scored");
        Assert.True(Sum(samples, "anomalymeta_series_scored_total") >= summary.SeriesScored);
        Assert.True(Sum(samples, "anomalymeta_series_skipped_total") >= summary.SeriesSkipped);
        Assert.True(Sum(samples, "anomalymeta_anomalies_written_total") >= summary.AnomaliesWritten);
        Assert.True(Sum(samples, "anomalymeta_batch_duration_seconds_count") >= summary.Batches);
        Assert.True(Sum(samples, "anomalymeta_runs_total", "kind=\"nightly\"", "status=\"succeeded\"") >= 1);
        Assert.True(Sum(samples, "anomalymeta_run_duration_seconds_count", "kind=\"nightly\"", "status=\"succeeded\"") >= 1);
        Assert.True(Sum(samples, "anomalymeta_run_duration_seconds_sum", "kind=\"nightly\"", "status=\"succeeded\"") > 0);
        Assert.True(Sum(samples, "http_server_request_duration_seconds_count", "http_route=\"/api/runs/\"", "http_response_status_code=\"200\"") >= 1);
        // Npgsql's own meter, for the service's pool (named after its connection string, without the password).
        Assert.True(Sum(samples, "db_client_operation_duration_seconds_count", $"Database={Database.DatabaseName};") >= 1);
    }

    private sealed record Sample(string Name, string Labels, double Value);

    private static double Sum(List<Sample> samples, string name, params string[] labels)
    {
        var matching = samples.Where(s => s.Name == name && labels.All(label => s.Labels.Contains(label, StringComparison.Ordinal))).ToList();
        Assert.True(matching.Count > 0, $"no {name} {string.Join(',', labels)} in /metrics");
        return matching.Sum(s => s.Value);
    }

    private static async Task<List<Sample>> ScrapeAsync(HttpClient client, Func<List<Sample>, bool> ready)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var response = await client.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            var samples = Parse(await response.Content.ReadAsStringAsync());
            if (ready(samples) || clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                return samples;
            }
            await Task.Delay(200);
        }
    }

    /// <summary>The samples of a Prometheus text exposition: <c>name{labels} value [timestamp]</c>, comments skipped.</summary>
    private static List<Sample> Parse(string exposition)
    {
        var samples = new List<Sample>();
        foreach (string line in exposition.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }
            int brace = line.IndexOf('{', StringComparison.Ordinal);
            int space = line.IndexOf(' ', line.LastIndexOf('}') + 1);
            string name = line[..(brace >= 0 && brace < space ? brace : space)];
            string labels = brace >= 0 && brace < space ? line[brace..space] : "";
            string value = line[(space + 1)..].Split(' ')[0];
            samples.Add(new Sample(name, labels, value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                _ => double.Parse(value, CultureInfo.InvariantCulture),
            }));
        }
        return samples;
    }
}
