using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Cli.Commands;

/// <summary>
/// `anomalymeta load-demo`: the compose stack's one-shot loader. It feeds a running service the demo's generated fleet
/// and gets it scored, through the HTTP API only, the way a feed and an operator do: the observations go to
/// `POST /api/observations`, the first clustering and models come from the retrain job run now
/// (`POST /api/jobs/recluster-and-retrain/trigger`) instead of on Sunday, and the last day is scored with
/// `POST /api/runs/rescore`. Afterwards the dashboard shows that day's flags. Only the API key, when none is given,
/// is made in the database (a key cannot be made over HTTP without one).
/// </summary>
internal static class LoadDemoCommand
{
    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "The service's base address (any replica).", Required = true };
        var apiKey = new Option<string?>("--api-key") { Description = "The key to send; default: $ANOMALYMETA_API_KEY, else a new key 'demo-loader-…' made in the configured database." };
        var series = new Option<int>("--series") { Description = "Series to generate.", DefaultValueFactory = _ => 500 };
        var days = new Option<int>("--days") { Description = "Days of history before the scoring day.", DefaultValueFactory = _ => 22 };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 42 };
        var perRequest = new Option<int>("--series-per-request") { Description = "Series sent in one POST (all their days; one transaction each).", DefaultValueFactory = _ => 500 };
        var timeout = new Option<int>("--timeout-seconds") { Description = "Give up when the service is not live, trained and done scoring within this.", DefaultValueFactory = _ => 1800 };
        var json = new Option<FileInfo?>("--json") { Description = "Write the outcome as JSON to this file." };
        var command = new Command("load-demo",
            "The compose stack's one-shot loader: send a generated fleet to a running service over HTTP, have it cluster and train now, score the last day, and print what the dashboard shows.")
        {
            url, apiKey, series, days, seed, perRequest, timeout, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            int seriesCount = parse.GetValue(series), dayCount = parse.GetValue(days), block = parse.GetValue(perRequest), seconds = parse.GetValue(timeout);
            if (seriesCount < 1 || dayCount < 1 || block < 1 || seconds < 1)
            {
                throw new ArgumentException(
                    $"load-demo: --series ({seriesCount}), --days ({dayCount}), --series-per-request ({block}) and --timeout-seconds ({seconds}) must be at least 1.");
            }
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(seconds));
            var fleet = new SyntheticFleetOptions
            {
                SeriesCount = seriesCount,
                HistoryDays = dayCount,
                Seed = parse.GetValue(seed),
                ScoringDay = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-1),
            };
            string address = parse.GetRequiredValue(url);
            if (!Uri.TryCreate(address, UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
            {
                throw new ArgumentException($"load-demo: --url '{address}' is not an http(s) address such as http://127.0.0.1:8080.");
            }
            var stage = new Stage();
            Outcome outcome;
            try
            {
                outcome = await LoadAsync(baseAddress, parse.GetValue(apiKey), fleet, block, stage, deadline.Token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new InvalidOperationException($"load-demo: gave up after {seconds} s {stage.Now} at {baseAddress} (see the service's log).");
            }
            Console.WriteLine(outcome.Table());
            if (parse.GetValue(json) is FileInfo file)
            {
                await File.WriteAllTextAsync(file.FullName, JsonSerializer.Serialize(outcome, IndentedJson), cancellationToken);
            }
            return 0;
        });
        return command;
    }

    /// <summary>What the loader did and what the service made of it.</summary>
    public sealed record Outcome(
        [property: System.Text.Json.Serialization.JsonPropertyName("series")] int Series,
        [property: System.Text.Json.Serialization.JsonPropertyName("rows_sent")] long RowsSent,
        [property: System.Text.Json.Serialization.JsonPropertyName("ingest_requests")] int IngestRequests,
        [property: System.Text.Json.Serialization.JsonPropertyName("retrain_job_run")] long RetrainJobRun,
        [property: System.Text.Json.Serialization.JsonPropertyName("retrain_detail")] string RetrainDetail,
        [property: System.Text.Json.Serialization.JsonPropertyName("run_id")] long RunId,
        [property: System.Text.Json.Serialization.JsonPropertyName("as_of")] DateOnly AsOf,
        [property: System.Text.Json.Serialization.JsonPropertyName("run_status")] string RunStatus,
        [property: System.Text.Json.Serialization.JsonPropertyName("series_scored")] int SeriesScored,
        [property: System.Text.Json.Serialization.JsonPropertyName("anomalies_written")] int AnomaliesWritten,
        [property: System.Text.Json.Serialization.JsonPropertyName("seconds")] double Seconds)
    {
        public string Table() => string.Join(Environment.NewLine,
            "| series | rows sent | requests | retrain job | run | day | status | scored | anomalies | seconds |",
            "| ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |",
            string.Create(CultureInfo.InvariantCulture,
                $"| {Series} | {RowsSent} | {IngestRequests} | {RetrainJobRun} | {RunId} | {AsOf:yyyy-MM-dd} | {RunStatus} | {SeriesScored} | {AnomaliesWritten} | {Seconds:F1} |"));
    }

    /// <summary>What the loader is waiting for, for the message when it gives up.</summary>
    private sealed class Stage
    {
        public string Now { get; set; } = "waiting for the service to answer /health/live";
    }

    private static async Task<Outcome> LoadAsync(Uri url, string? givenKey, SyntheticFleetOptions fleet, int block, Stage stage, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var client = new HttpClient { BaseAddress = url, Timeout = Timeout.InfiniteTimeSpan };
        await WaitLiveAsync(client, cancellationToken);
        stage.Now = "sending the observations";
        string key = givenKey ?? (Environment.GetEnvironmentVariable("ANOMALYMETA_API_KEY") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : await NewKeyAsync(cancellationToken));
        client.DefaultRequestHeaders.Add("X-Api-Key", key);

        // 1. The observations, a block of series (all their days) per request: each request is one transaction.
        var generator = new SyntheticSeriesGenerator(fleet);
        long rows = 0;
        int requests = 0;
        for (int from = 0; from < fleet.SeriesCount; from += block)
        {
            int to = Math.Min(fleet.SeriesCount, from + block);
            using var response = await client.PostAsync("/api/observations", new FleetCsvContent(generator, from, to), cancellationToken);
            using var answer = await ReadAsync(response, $"POST /api/observations (series {from} to {to - 1})", cancellationToken);
            rows += answer.RootElement.GetProperty("rows").GetInt64();
            requests++;
            Console.Error.WriteLine($"load-demo: series {from + 1}-{to} of {fleet.SeriesCount} ingested ({rows:N0} rows so far)");
        }

        // 2. The first clustering and its models, now rather than at the weekly schedule.
        using var triggered = await client.PostAsJsonAsync("/api/jobs/recluster-and-retrain/trigger", new { reason = "demo loader: first clustering and models" }, cancellationToken);
        string trigger;
        using (var answer = await ReadAsync(triggered, "POST /api/jobs/recluster-and-retrain/trigger", cancellationToken))
        {
            trigger = answer.RootElement.GetProperty("trigger").GetString()!;
        }
        Console.Error.WriteLine($"load-demo: re-clustering and training (trigger {trigger})");
        stage.Now = $"waiting for the re-clustering and training (trigger {trigger})";
        var (jobRunId, detail) = await WaitForJobAsync(client, trigger, cancellationToken);

        // 3. The last day scored, as an on-call engineer would rescore it.
        using var rescored = await client.PostAsJsonAsync("/api/runs/rescore",
            new { asOf = fleet.ScoringDay.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), reason = "demo loader: first scores" }, cancellationToken);
        long runId;
        using (var answer = await ReadAsync(rescored, "POST /api/runs/rescore", cancellationToken))
        {
            runId = answer.RootElement.GetProperty("runId").GetInt64();
        }
        Console.Error.WriteLine($"load-demo: scoring {fleet.ScoringDay:yyyy-MM-dd} (run {runId})");
        stage.Now = $"waiting for run {runId} to score {fleet.ScoringDay:yyyy-MM-dd}";
        using var run = await WaitForRunAsync(client, runId, cancellationToken);
        var line = run.RootElement;
        string status = line.GetProperty("status").GetString()!;
        if (status != "succeeded")
        {
            throw new InvalidOperationException($"load-demo: run {runId} ended {status}: {line.GetProperty("error")}");
        }
        return new Outcome(fleet.SeriesCount, rows, requests, jobRunId, detail, runId, fleet.ScoringDay, status,
            line.GetProperty("seriesScored").GetInt32(), line.GetProperty("anomaliesWritten").GetInt32(), clock.Elapsed.TotalSeconds);
    }

    private static async Task<string> NewKeyAsync(CancellationToken cancellationToken)
    {
        using var host = CliHost.Build();
        string name = $"demo-loader-{DateTime.UtcNow:yyyyMMddHHmmss}";
        string key = await host.Services.GetRequiredService<ApiKeyStore>().CreateAsync(name, cancellationToken);
        Console.Error.WriteLine($"load-demo: made API key '{name}'");
        return key;
    }

    private static async Task WaitLiveAsync(HttpClient client, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                using var live = await client.GetAsync("/health/live", cancellationToken);
                if (live.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(500, cancellationToken);
        }
    }

    /// <summary>Polls the job ledger for the execution of <paramref name="trigger"/> until it ends; its id and detail when it succeeded.</summary>
    private static async Task<(long JobRunId, string Detail)> WaitForJobAsync(HttpClient client, string trigger, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var ledger = await ReadAsync(await client.GetAsync("/api/jobs?limit=100", cancellationToken), "GET /api/jobs", cancellationToken);
            foreach (var line in ledger.RootElement.EnumerateArray())
            {
                if (!line.GetProperty("triggeredBy").GetString()!.Contains(trigger, StringComparison.Ordinal))
                {
                    continue;
                }
                switch (line.GetProperty("status").GetString())
                {
                    case "succeeded":
                        return (line.GetProperty("jobRunId").GetInt64(), line.GetProperty("detail").GetString()!);
                    case "failed":
                        throw new InvalidOperationException($"load-demo: the retrain job failed: {line.GetProperty("error")}");
                }
            }
            await Task.Delay(1000, cancellationToken);
        }
    }

    private static async Task<JsonDocument> WaitForRunAsync(HttpClient client, long runId, CancellationToken cancellationToken)
    {
        while (true)
        {
            var run = await ReadAsync(await client.GetAsync($"/api/runs/{runId}", cancellationToken), $"GET /api/runs/{runId}", cancellationToken);
            if (run.RootElement.GetProperty("status").GetString() is not ("queued" or "running"))
            {
                return run;
            }
            run.Dispose();
            await Task.Delay(1000, cancellationToken);
        }
    }

    /// <summary>The answer's JSON, or an error naming the request and carrying the service's problem text.</summary>
    private static async Task<JsonDocument> ReadAsync(HttpResponseMessage response, string request, CancellationToken cancellationToken)
    {
        using (response)
        {
            string body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                string hint = response.StatusCode == HttpStatusCode.Unauthorized ? " (the API key was refused)" : "";
                throw new InvalidOperationException($"load-demo: {request} answered {(int)response.StatusCode}{hint}: {body}");
            }
            return JsonDocument.Parse(body);
        }
    }

    /// <summary>Series [from, to) of the fleet as observation CSV, written to the request as it is generated (sent chunked).</summary>
    private sealed class FleetCsvContent : HttpContent
    {
        private readonly SyntheticSeriesGenerator _generator;
        private readonly int _from;
        private readonly int _to;

        public FleetCsvContent(SyntheticSeriesGenerator generator, int from, int to)
        {
            (_generator, _from, _to) = (generator, from, to);
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/csv");
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var writer = new StreamWriter(stream, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
            await writer.WriteLineAsync(SyntheticCsv.Header);
            await SyntheticCsv.WriteSeriesAsync(writer, _generator, _from, _to, cancellationToken);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
