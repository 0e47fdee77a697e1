using System.Diagnostics;
using System.Text.Json;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Service.Hosting;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AnomalyMeta.Service.Tests;

/// <summary>The service's console output, read from the service process as a log shipper reads it.</summary>
public sealed class ConsoleLogTests : IAsyncLifetime
{
    private const int RunStarted = 1001;
    private const int BatchCommitted = 1003;
    private const int RunSucceeded = 1004;
    private const int RunFailed = 1005;
    private const int OrphanFailed = 1007;

    private readonly PostgresFixture _database = new();

    public Task InitializeAsync() => _database.InitializeAsync();

    public Task DisposeAsync() => _database.DisposeAsync();

    [Fact]
    public async Task Every_console_line_is_compact_json_and_every_line_of_a_run_carries_its_RunId_with_progress_per_batch()
    {
        // A date older than the days whose failed nightly runs the service finishes on its own.
        var fleet = new SyntheticFleetOptions { SeriesCount = 150, HistoryDays = 14, Seed = 8, ScoringDay = new DateOnly(2025, 3, 10) };
        var (runId, orphanId) = await PrepareQueuedRescoreAsync(fleet);

        // The service hands the queued rescore to its scheduler as it starts: a run with no HTTP call, so no port to find.
        var (lines, errors) = await RunServiceUntilAsync(runId, ("Scoring__BatchSize", "50"));

        Assert.True(lines.Count > 0, $"the service wrote nothing on stdout; stderr: {errors}");
        var events = lines.Select(ParseLine).ToList();
        for (int i = 0; i < lines.Count; i++)
        {
            var e = events[i];
            Assert.True(e.ValueKind == JsonValueKind.Object && e.TryGetProperty("@t", out _) && e.TryGetProperty("@m", out _),
                $"stdout line {i + 1} is not a compact JSON event: {lines[i]}");
        }
        int start = events.FindIndex(e => EventId(e) == RunStarted && RunIdOf(e) == runId);
        int end = events.FindIndex(e => EventId(e) == RunSucceeded && RunIdOf(e) == runId);
        Assert.True(start >= 0 && end > start, $"no start and success of run {runId} in:\n{string.Join('\n', lines)}\nstderr: {errors}");
        // Every line while the run goes on, whoever logged it, names the run. The orphan's line has no RunId of its
        // own (its template names the orphan): it gets the run's from the scope MorningScoring opens.
        var orphan = Assert.Single(events, e => EventId(e) == OrphanFailed);
        Assert.Equal(orphanId, orphan.GetProperty("OrphanRunId").GetInt64());
        Assert.Equal(runId, RunIdOf(orphan));
        Assert.All(events[start..(end + 1)], e => Assert.Equal(runId, RunIdOf(e)));

        // An operator sees the run advance batch by batch, at Information (CLEF leaves @l out for Information).
        var batches = events.Where(e => EventId(e) == BatchCommitted).ToList();
        Assert.Equal([1, 2, 3], batches.Select(e => e.GetProperty("Batch").GetInt32()));
        Assert.Equal([50, 100, 150], batches.Select(e => e.GetProperty("SeriesDone").GetInt32()));
        Assert.All(batches, e =>
        {
            Assert.False(e.TryGetProperty("@l", out var level), $"batch progress at {level}");
            Assert.Equal(3, e.GetProperty("BatchesTotal").GetInt32());
            Assert.Equal(150, e.GetProperty("SeriesTotal").GetInt32());
        });
        Assert.Contains("150 of 150 series done", batches[^1].GetProperty("@m").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A trained fleet, a nightly run of the scoring day whose process died (left running), and a rescore of that day
    /// accepted but not yet run, as the API leaves it. Returns the rescore's and the dead run's ids.
    /// </summary>
    private async Task<(long RunId, long OrphanId)> PrepareQueuedRescoreAsync(SyntheticFleetOptions fleet)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:Postgres"] = _database.ConnectionString;
        builder.Services.AddAnomalyMeta(builder.Configuration);
        using var host = builder.Build();
        var services = host.Services;
        await services.GetRequiredService<SyntheticFleetIngest>().IngestAsync(new SyntheticSeriesGenerator(fleet), CancellationToken.None);
        var lastHistoryDay = fleet.ScoringDay.AddDays(-1);
        await services.GetRequiredService<ClusteringStep>().RunAsync(lastHistoryDay, fleet.HistoryDays, CancellationToken.None);
        await services.GetRequiredService<MetaTrainingStep>().TrainAsync(lastHistoryDay,
            new TrainingOptions { Iterations = 30, HistoryDays = fleet.HistoryDays, MaxSeriesPerCluster = 100 }, CancellationToken.None);
        var ledger = services.GetRequiredService<RunLedger>();
        var dead = await ledger.StartAsync(RunKind.Nightly, fleet.ScoringDay, "quartz:morning", null, fleet.SeriesCount, CancellationToken.None);
        var queued = await ledger.QueueAsync(fleet.ScoringDay, "apikey:on-call", "console log test", CancellationToken.None);
        return (queued.RunId, dead.Run.RunId);
    }

    /// <summary>
    /// Starts the service the way an operator does (its own appsettings.json, settings from the environment) and reads
    /// its stdout until the run has ended, then stops it.
    /// </summary>
    private async Task<(List<string> Lines, string Errors)> RunServiceUntilAsync(long runId, params (string Name, string Value)[] settings)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AnomalyMeta.Service.dll"));
        start.Environment["ConnectionStrings__Postgres"] = _database.ConnectionString;
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        foreach (var (name, value) in settings)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is string line)
            {
                lines.Add(line);
                var e = ParseLine(line);
                if (EventId(e) is RunSucceeded or RunFailed && RunIdOf(e) == runId)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Timed out: the assertions say what was (not) logged.
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
        return (lines, await errors);
    }

    private static JsonElement ParseLine(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            // Not JSON: an undefined element, which the assertions report with the line.
            return default;
        }
    }

    private static int? EventId(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("EventId", out var id) && id.TryGetProperty("Id", out var value) ? value.GetInt32() : null;

    private static long? RunIdOf(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("RunId", out var id) && id.ValueKind == JsonValueKind.Number ? id.GetInt64() : null;
}
