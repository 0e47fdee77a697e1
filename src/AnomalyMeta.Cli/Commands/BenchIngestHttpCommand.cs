using System.Buffers;
using System.Buffers.Text;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AnomalyMeta.Benchmarks;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Storage;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AnomalyMeta.Cli.Commands;

/// <summary>
/// `anomalymeta bench ingest-http`: points per second into <c>POST /api/observations</c> from one client over
/// loopback. The built service runs as its own process (so the client's and the server's memory are measured apart)
/// against a throwaway database; the client streams generated readings, one request per day of every series, each
/// body chunked and written as it is generated (never held whole by either side).
/// </summary>
internal static class BenchIngestHttpCommand
{
    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    private static readonly DateOnly FirstDay = new(2026, 1, 1);

    public static Command Create()
    {
        var series = new Option<int>("--series") { Description = "Series in every request.", DefaultValueFactory = _ => 10_000 };
        var days = new Option<int>("--days") { Description = "Requests: one day (24 hourly points) of every series each.", DefaultValueFactory = _ => 7 };
        var format = new Option<string>("--format") { Description = "Body format: csv or ndjson.", DefaultValueFactory = _ => "csv" };
        var json = new Option<FileInfo?>("--json") { Description = "Write the figures as JSON to this file." };
        var command = new Command("ingest-http", "Stream generated observations into the service's POST /api/observations; points/s and peak RSS.")
        {
            series, days, format, json,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(series), parse.GetValue(days), parse.GetValue(format)!,
            parse.GetValue(json), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(int seriesCount, int days, string format, FileInfo? json, CancellationToken cancellationToken)
    {
        if (seriesCount < 1 || days < 1 || format is not ("csv" or "ndjson"))
        {
            throw new ArgumentException($"bench ingest-http: --series and --days at least 1 (found {seriesCount}, {days}), --format csv or ndjson (found '{format}').");
        }
        var target = ThrowawayDatabase.Beside("ingest_http");
        await ThrowawayDatabase.RecreateAsync(target, cancellationToken);
        string key;
        using (var host = CliHost.Build(target.ConnectionString))
        {
            key = await host.Services.GetRequiredService<ApiKeyStore>().CreateAsync("bench", cancellationToken);
        }
        int port = ServiceInstances.FreePort();
        string logs = Path.Combine(Path.GetTempPath(), $"anomalymeta-bench-ingest-http-{Environment.ProcessId}");
        var requests = new List<(double Seconds, long Points, string Answer)>();
        double seconds;
        double serverPeak;
        double serverCpu = 0;
        double clientCpu = 0;
        double postgresCpu = 0;
        var serverCpuPerRequest = new List<double>();
        double parseOnly = await ParseOnlyPointsPerCpuSecondAsync(seriesCount, format == "ndjson", cancellationToken);
        await using (var service = ServiceInstances.Start(1, target.ConnectionString, 1, logs, url: $"http://127.0.0.1:{port}"))
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(30) };
            await service.WaitLiveAsync(client.BaseAddress!, TimeSpan.FromMinutes(1), logs, cancellationToken);
            using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // The server's VmHWM is read from /proc while the requests run: it has no endpoint for it.
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    service.Sample();
                    await Task.Delay(100, CancellationToken.None);
                }
            }, CancellationToken.None);
            int serverPid = service.ProcessId(service.Ids[0]);
            double serverCpuBefore = CpuSeconds(serverPid);
            var clientCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var backendsBefore = await BackendCpuSecondsAsync(target.ConnectionString, cancellationToken);
            var clock = Stopwatch.StartNew();
            try
            {
                for (int day = 0; day < days; day++)
                {
                    var started = clock.Elapsed;
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/api/observations")
                    {
                        Content = new GeneratedObservations(seriesCount, FirstDay.AddDays(day), format == "ndjson"),
                    };
                    request.Headers.Add("X-Api-Key", key);
                    using var response = await client.SendAsync(request, cancellationToken);
                    string answer = await response.Content.ReadAsStringAsync(cancellationToken);
                    if (!response.IsSuccessStatusCode)
                    {
                        throw new InvalidOperationException($"bench ingest-http: day {day + 1} answered {(int)response.StatusCode}: {answer}");
                    }
                    requests.Add(((clock.Elapsed - started).TotalSeconds, seriesCount * 24L, answer));
                    serverCpuPerRequest.Add(CpuSeconds(serverPid) - serverCpuBefore - serverCpuPerRequest.Sum());
                    Console.Error.WriteLine($"bench ingest-http: request {day + 1} of {days}: {seriesCount * 24L:N0} points in {requests[^1].Seconds:F2} s");
                }
                seconds = clock.Elapsed.TotalSeconds;
                serverCpu = CpuSeconds(serverPid) - serverCpuBefore;
                clientCpu = (Process.GetCurrentProcess().TotalProcessorTime - clientCpuBefore).TotalSeconds;
                // The pool keeps the service's connections open after the requests: their backends' CPU is the database's share.
                postgresCpu = Math.Max(0, await BackendCpuSecondsAsync(target.ConnectionString, cancellationToken) - backendsBefore);
            }
            finally
            {
                await sampling.CancelAsync();
                await sampler;
            }
            service.Sample();
            serverPeak = service.PeakMegabytes.Values.Single();
        }

        var inProcess = await InProcessCpuPerPointAsync(target.ConnectionString, seriesCount, days, format == "ndjson", cancellationToken);
        await using var connection = new NpgsqlConnection(target.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var stored = await connection.QuerySingleAsync<(long Series, long DayRows, long Points)>(
            "select (select count(*) from series), count(*), coalesce(sum((select count(*) from unnest(observation_points(points)) p where p <> 'NaN'))::bigint, 0) from observation_day");
        long points = seriesCount * 24L * days;
        // The in-process baseline wrote 2 more days of every series after the requests' days.
        bool complete = stored.Series == seriesCount && stored.DayRows == (long)seriesCount * (days + 2) && stored.Points == seriesCount * 24L * (days + 2);
        double clientPeak = ProcessMemory.PeakResidentMegabytes();
        double pointsPerSecond = points / seconds;

        Console.WriteLine("| figure | value |");
        Console.WriteLine("| --- | --- |");
        Console.WriteLine($"| requests | {days} × {seriesCount:N0} series × 24 points ({format}, chunked, one client over loopback) |");
        Console.WriteLine($"| points/s | {pointsPerSecond:N0} ({points:N0} points in {seconds:F1} s) |");
        Console.WriteLine($"| per request | first {requests[0].Seconds:F2} s (registers the series), then median {Median(requests.Skip(1).Select(r => r.Seconds)):F2} s |");
        Console.WriteLine($"| stored | {stored.Series:N0} series, {stored.DayRows:N0} day rows, {stored.Points:N0} points: {(complete ? "complete" : "INCOMPLETE")} |");
        Console.WriteLine($"| peak RSS | client {clientPeak:N0} MB, server {serverPeak:N0} MB |");
        Console.WriteLine($"| CPU seconds | client {clientCpu:F1}, server {serverCpu:F1}, PostgreSQL backends {postgresCpu:F1} (wall {seconds:F1}; {Environment.ProcessorCount} cores) |");
        Console.WriteLine($"| server CPU per point | {1e6 * serverCpu / points:F2} µs; parsing alone ({format}, in this process) {1e6 / parseOnly:F2} µs, {parseOnly:N0} points per CPU second |");
        Console.WriteLine($"| server CPU per request | {string.Join(", ", serverCpuPerRequest.Select(c => c.ToString("F2", CultureInfo.InvariantCulture)))} s |");
        Console.WriteLine($"| same ingest in this process, no HTTP | {1e6 * inProcess.Client:F2} µs CPU per point here, {1e6 * inProcess.Postgres:F2} µs in PostgreSQL ({inProcess.Wall:F2} s wall per request) |");
        Console.WriteLine($"| service log | {logs} |");
        if (json is not null)
        {
            var figures = new Dictionary<string, object>
            {
                ["points_per_second"] = pointsPerSecond,
                ["points"] = points,
                ["seconds"] = seconds,
                ["series"] = seriesCount,
                ["requests"] = days,
                ["format"] = format,
                ["request_seconds"] = requests.Select(r => r.Seconds).ToArray(),
                ["client_peak_rss_mb"] = clientPeak,
                ["server_peak_rss_mb"] = serverPeak,
                ["complete"] = complete,
                ["client_cpu_seconds"] = clientCpu,
                ["server_cpu_seconds"] = serverCpu,
                ["postgres_cpu_seconds"] = postgresCpu,
                ["parse_points_per_cpu_second"] = parseOnly,
                ["server_cpu_seconds_per_request"] = serverCpuPerRequest.ToArray(),
                ["in_process_cpu_us_per_point"] = 1e6 * inProcess.Client,
                ["in_process_postgres_cpu_us_per_point"] = 1e6 * inProcess.Postgres,
            };
            await File.WriteAllTextAsync(json.FullName, JsonSerializer.Serialize(figures, IndentedJson), cancellationToken);
        }
        await ThrowawayDatabase.DropAsync(target, CancellationToken.None);
        return complete ? 0 : 1;
    }

    /// <summary>
    /// How fast the service's reader parses and checks one request's body, with no HTTP and no database: the share of
    /// the server's time that is parsing. The body is generated into memory first (only here).
    /// </summary>
    private static async Task<double> ParseOnlyPointsPerCpuSecondAsync(int seriesCount, bool jsonLines, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        await new GeneratedObservations(seriesCount, FirstDay, jsonLines).CopyToAsync(body, cancellationToken);
        double best = 0;
        // Best of three: the first pass also pays for JIT.
        for (int pass = 0; pass < 3; pass++)
        {
            body.Position = 0;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            long readings = 0;
            var stream = jsonLines
                ? ObservationJsonLines.StreamAsync(body, "bench", cancellationToken)
                : ObservationCsv.StreamAsync(body, "bench", cancellationToken);
            await foreach (var _ in stream)
            {
                readings++;
            }
            best = Math.Max(best, readings / Math.Max(1e-3, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds));
        }
        return best;
    }

    /// <summary>
    /// The same ingest (<see cref="CsvIngest"/> on the reader the endpoint uses) run in this process on two more days,
    /// with no HTTP: CPU seconds per point here and in PostgreSQL, and wall seconds per request. What the service
    /// spends beyond this is HTTP.
    /// </summary>
    private static async Task<(double Client, double Postgres, double Wall)> InProcessCpuPerPointAsync(string connectionString, int seriesCount, int days,
        bool jsonLines, CancellationToken cancellationToken)
    {
        using var host = CliHost.Build(connectionString);
        var ingest = host.Services.GetRequiredService<CsvIngest>();
        double client = 0;
        double postgres = 0;
        double wall = 0;
        for (int day = days; day < days + 2; day++)
        {
            using var body = new MemoryStream();
            await new GeneratedObservations(seriesCount, FirstDay.AddDays(day), jsonLines).CopyToAsync(body, cancellationToken);
            body.Position = 0;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            double backends = await BackendCpuSecondsAsync(connectionString, cancellationToken);
            var clock = Stopwatch.StartNew();
            var readings = jsonLines ? ObservationJsonLines.StreamAsync(body, "bench", cancellationToken) : ObservationCsv.StreamAsync(body, "bench", cancellationToken);
            await ingest.IngestAsync(readings, "bench", new CsvIngestOptions(), cancellationToken);
            wall = clock.Elapsed.TotalSeconds;
            // The first day pays for JIT: the second is the figure.
            client = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / (seriesCount * 24.0);
            postgres = (await BackendCpuSecondsAsync(connectionString, cancellationToken) - backends) / (seriesCount * 24.0);
        }
        return (client, postgres, wall);
    }

    /// <summary>User + system CPU seconds of a process, from /proc/PID/stat (clock ticks of 1/100 s).</summary>
    private static double CpuSeconds(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name (which may hold spaces, so split after its closing parenthesis): utime is the 12th, stime the 13th.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>CPU seconds of the database's backends now connected (PostgreSQL on this machine; 0 elsewhere).</summary>
    private static async Task<double> BackendCpuSecondsAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var pids = await connection.QueryAsync<int>("select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()");
        return pids.Sum(CpuSeconds);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }

    /// <summary>A port nobody listens on now; the service binds it a moment later (a race a benchmark can live with).</summary>
    /// <summary>
    /// One day of hourly readings of every series, written to the request stream as it is generated (no length, so
    /// HttpClient sends it chunked): the client holds one 64 KiB buffer, not the body.
    /// </summary>
    private sealed class GeneratedObservations : HttpContent
    {
        private readonly int _series;
        private readonly DateOnly _day;
        private readonly bool _jsonLines;

        public GeneratedObservations(int series, DateOnly day, bool jsonLines)
        {
            _series = series;
            _day = day;
            _jsonLines = jsonLines;
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(jsonLines ? "application/x-ndjson" : "text/csv");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            const int Flush = 60 * 1024;
            byte[] buffer = new byte[64 * 1024];
            int length = 0;
            if (!_jsonLines)
            {
                length += Encoding.UTF8.GetBytes("series_key,timestamp,value\n", buffer);
            }
            var timestamps = new byte[24][];
            for (int hour = 0; hour < 24; hour++)
            {
                timestamps[hour] = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"{_day.ToDateTime(new TimeOnly(hour, 0), DateTimeKind.Utc):yyyy-MM-ddTHH:mm:ssZ}"));
            }
            for (int series = 0; series < _series; series++)
            {
                for (int hour = 0; hour < 24; hour++)
                {
                    if (length > Flush)
                    {
                        await stream.WriteAsync(buffer.AsMemory(0, length), cancellationToken);
                        length = 0;
                    }
                    // A daily cycle per series with its own level and phase: values of the shape real feeds send.
                    float value = (float)(100 + (series % 97) + (10 * Math.Sin((2 * Math.PI * (hour + series)) / 24)));
                    length += Line(buffer.AsSpan(length), series, timestamps[hour], value);
                }
            }
            await stream.WriteAsync(buffer.AsMemory(0, length), cancellationToken);
        }

        private int Line(Span<byte> into, int series, byte[] timestamp, float value)
        {
            int at = 0;
            void Put(ReadOnlySpan<byte> bytes, Span<byte> target)
            {
                bytes.CopyTo(target[at..]);
                at += bytes.Length;
            }
            Put(_jsonLines ? "{\"series_key\":\"s"u8 : "s"u8, into);
            Utf8Formatter.TryFormat(series, into[at..], out int written, new StandardFormat('D', 7));
            at += written;
            Put(_jsonLines ? "\",\"timestamp\":\""u8 : ","u8, into);
            Put(timestamp, into);
            Put(_jsonLines ? "\",\"value\":"u8 : ","u8, into);
            Utf8Formatter.TryFormat(value, into[at..], out written);
            at += written;
            Put(_jsonLines ? "}\n"u8 : "\n"u8, into);
            return at;
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
