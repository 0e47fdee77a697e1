using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using AnomalyMeta.Benchmarks.Dashboard;

namespace AnomalyMeta.Cli.Commands;

/// <summary>
/// `anomalymeta bench dashboard`: the dashboard's read queries at the mission's size. A throwaway database gets N series
/// and D days of flags at the demo's rate (made by PostgreSQL, no model runs), the service starts as its own process on
/// 127.0.0.1 (the built AnomalyMeta.Service.dll next to this tool), and wrk drives each main query at a fixed number of
/// connections. A table of p50 / p95 / p99 per query against the 50 ms target, and JSON with --json.
/// </summary>
internal static class BenchDashboardCommand
{
    /// <summary>The target: p95 of every query at or under this, in milliseconds.</summary>
    public const double TargetP95Ms = 50;

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    public static Command Create()
    {
        var series = new Option<int>("--series") { Description = "Series to register.", DefaultValueFactory = _ => 2_000_000 };
        var days = new Option<int>("--days") { Description = "Days of flags (one nightly run each).", DefaultValueFactory = _ => 30 };
        var rate = new Option<double>("--flags-per-series-day") { Description = "Flags per series and day (the demo's: 1.22).", DefaultValueFactory = _ => 1.22 };
        var connections = new Option<int>("--connections") { Description = "wrk connections.", DefaultValueFactory = _ => 16 };
        var seconds = new Option<int>("--seconds") { Description = "wrk duration per query, in seconds.", DefaultValueFactory = _ => 20 };
        var keep = new Option<bool>("--keep") { Description = "Keep the filled database (anomalymeta_dashboard) and reuse it on the next run with the same figures." };
        var json = new Option<FileInfo?>("--json") { Description = "Write the figures as JSON to this file." };
        var command = new Command("dashboard", "Fill N series and D days of flags, start the service, drive its read queries with wrk; p50/p95/p99 per query.")
        {
            series, days, rate, connections, seconds, keep, json,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(series), parse.GetValue(days), parse.GetValue(rate),
            parse.GetValue(connections), parse.GetValue(seconds), parse.GetValue(keep), parse.GetValue(json), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(int seriesCount, int days, double rate, int connections, int seconds, bool keep, FileInfo? json,
        CancellationToken cancellationToken)
    {
        if (seriesCount < 100 || days is < 1 or > 90 || connections < 1 || seconds < 1)
        {
            throw new ArgumentException($"bench dashboard: --series at least 100 (found {seriesCount}), --days 1 to 90 (found {days}), --connections and --seconds at least 1.");
        }
        var target = ThrowawayDatabase.Beside("dashboard");
        // A fixed last day: the figures do not move with the calendar.
        var lastDay = new DateOnly(2026, 11, 22);
        var fill = keep ? await ReusableFillAsync(target.ConnectionString, seriesCount, days, lastDay, cancellationToken) : null;
        if (fill is null)
        {
            await ThrowawayDatabase.RecreateAsync(target, cancellationToken);
            fill = await DashboardFleetFill.FillAsync(target.ConnectionString, seriesCount, days, rate, lastDay,
                line => Console.Error.WriteLine($"bench dashboard: {line}"), cancellationToken);
        }
        else
        {
            Console.Error.WriteLine($"bench dashboard: reusing {target.Database} ({fill.Anomalies:N0} flags)");
        }

        int port = ServiceInstances.FreePort();
        var baseUrl = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        // The service as it runs in production, in a process of its own (its own GC and thread pool, not this tool's),
        // its logs at Warning so that the load measures queries.
        string logs = Path.Combine(Path.GetTempPath(), $"anomalymeta-bench-dashboard-{Environment.ProcessId}");
        var service = ServiceInstances.Start(1, target.ConnectionString, 1, logs, url: baseUrl.ToString(),
            settings: new Dictionary<string, string> { ["Serilog__MinimumLevel__Default"] = "Warning" });
        try
        {
            await service.WaitLiveAsync(baseUrl, TimeSpan.FromSeconds(90), logs, cancellationToken);
            using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromMinutes(10) };

            // The counts per tag are made once per state of a day's runs, on the first request: timed here, then the
            // load reads them back as a dashboard does all day long.
            var firstCounts = new List<double>();
            for (var day = fill.FirstDay; day <= fill.LastDay; day = day.AddDays(1))
            {
                firstCounts.Add(await TimeGetAsync(http, $"/api/anomalies/tags?date={Day(day)}&key=team", cancellationToken));
            }
            double firstStatuses = await TimeGetAsync(http, "/api/runs/statuses?limit=30", cancellationToken);
            Console.Error.WriteLine($"bench dashboard: first counts per tag of a day {firstCounts.Average():F0} ms on average (max {firstCounts.Max():F0}); "
                + $"first run ledger with status counts {firstStatuses:F0} ms");

            var random = new Random(7);
            string RandomDay() => Day(fill.FirstDay.AddDays(random.Next(days)));
            string RandomSeries() => $"bench-{(1 + random.Next(seriesCount)).ToString("D7", CultureInfo.InvariantCulture)}";
            var queries = new (string Name, string Description, Func<string> Path)[]
            {
                ("top", "a day's top 50 anomalies of one team (tag filter), score ≥ 0.6",
                    () => $"/api/anomalies?date={RandomDay()}&tag=team%3Dteam-{random.Next(20)}&minScore=0.6&limit=50"),
                ("search", "a day's top 50 anomalies whose key holds 5 given digits",
                    () => $"/api/anomalies?date={RandomDay()}&q={random.Next(seriesCount / 100).ToString("D5", CultureInfo.InvariantCulture)}&limit=50"),
                ("history", "one series' flags over 30 days",
                    () => $"/api/series/{RandomSeries()}/anomalies?to={Day(fill.LastDay)}&days=30"),
                ("tags", "a day's counts per team",
                    () => $"/api/anomalies/tags?date={RandomDay()}&key=team"),
            };
            var results = new List<(string Description, WrkFigures Figures)>();
            foreach (var (name, description, path) in queries)
            {
                var paths = Enumerable.Range(0, 2000).Select(_ => path()).ToList();
                // A short warm-up per query: the JIT, the connection pool, the hot part of the indexes.
                await WrkLoad.RunAsync(name, baseUrl, paths, connections, 2, TimeSpan.FromSeconds(3), cancellationToken);
                var figures = await WrkLoad.RunAsync(name, baseUrl, paths, connections, 2, TimeSpan.FromSeconds(seconds), cancellationToken);
                Console.Error.WriteLine($"bench dashboard: {name}: p95 {figures.P95Ms:F1} ms, {figures.RequestsPerSecond:F0} req/s");
                results.Add((description, figures));
            }

            Console.WriteLine($"| query | what | requests | req/s | p50 ms | p95 ms | p99 ms | errors | p95 ≤ {TargetP95Ms:F0} ms |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (var (description, f) in results)
            {
                Console.WriteLine($"| {f.Query} | {description} | {f.Requests:N0} | {f.RequestsPerSecond:F0} | {f.P50Ms:F1} | {f.P95Ms:F1} | {f.P99Ms:F1} | {f.Errors} | {(f.P95Ms <= TargetP95Ms ? "met" : "not met")} |");
            }
            Console.WriteLine();
            Console.WriteLine($"{fill.Series:N0} series, {fill.Days} days, {fill.Anomalies:N0} flags ({(double)fill.Anomalies / fill.Series / fill.Days:F2} per series-day); "
                + $"{connections} connections, {seconds} s per query; fill {fill.SeriesSeconds + fill.AnomalySeconds:F0} s, vacuum analyze {fill.VacuumSeconds:F0} s");

            if (json is not null)
            {
                var figures = new Dictionary<string, object>
                {
                    ["series"] = fill.Series,
                    ["days"] = fill.Days,
                    ["anomalies"] = fill.Anomalies,
                    ["connections"] = connections,
                    ["seconds_per_query"] = seconds,
                    ["target_p95_ms"] = TargetP95Ms,
                    ["fill_seconds"] = fill.SeriesSeconds + fill.AnomalySeconds,
                    ["first_tag_counts_ms_mean"] = firstCounts.Average(),
                    ["first_tag_counts_ms_max"] = firstCounts.Max(),
                    ["first_run_statuses_ms"] = firstStatuses,
                    ["queries"] = results.ToDictionary(r => r.Figures.Query, r => (object)new Dictionary<string, object>
                    {
                        ["what"] = r.Description,
                        ["requests"] = r.Figures.Requests,
                        ["requests_per_second"] = r.Figures.RequestsPerSecond,
                        ["p50_ms"] = r.Figures.P50Ms,
                        ["p95_ms"] = r.Figures.P95Ms,
                        ["p99_ms"] = r.Figures.P99Ms,
                        ["max_ms"] = r.Figures.MaxMs,
                        ["errors"] = r.Figures.Errors,
                        ["met"] = r.Figures.P95Ms <= TargetP95Ms,
                    }),
                };
                await File.WriteAllTextAsync(json.FullName, JsonSerializer.Serialize(figures, IndentedJson), cancellationToken);
            }
            return results.All(r => r.Figures.Errors == 0) ? 0 : 1;
        }
        finally
        {
            await service.DisposeAsync();
            if (!keep)
            {
                await ThrowawayDatabase.DropAsync(target, CancellationToken.None);
            }
        }
    }

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>The kept database's figures when it holds the same fleet (series and days), else null.</summary>
    private static async Task<DashboardFleetFigures?> ReusableFillAsync(string connectionString, int seriesCount, int days, DateOnly lastDay, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new Npgsql.NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            // The fill writes the last day's run_series last: without them it was interrupted.
            await using var command = new Npgsql.NpgsqlCommand(
                """
                select (select count(*) from series), (select count(*) from run where kind = 'nightly'), (select coalesce(sum(anomalies_written), 0) from run),
                       exists (select from run_series)
                """, connection);
            DashboardFleetFigures? fill;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                fill = reader.GetInt64(0) == seriesCount && reader.GetInt64(1) == days && reader.GetBoolean(3)
                    ? new DashboardFleetFigures(seriesCount, days, lastDay.AddDays(1 - days), lastDay, reader.GetInt64(2), 0, 0, 0, 0)
                    : null;
            }
            if (fill is not null)
            {
                // A fill kept by an older build gets the migrations added since (the service refuses a database behind).
                AnomalyMeta.Storage.DatabaseMigrator.Migrate(connectionString, AnomalyMeta.Storage.DatabaseMigrator.FindMigrationsDirectory());
            }
            return fill;
        }
        catch (Npgsql.PostgresException exception) when (exception.SqlState is Npgsql.PostgresErrorCodes.InvalidCatalogName or Npgsql.PostgresErrorCodes.UndefinedTable)
        {
            return null;
        }
    }

    private static async Task<double> TimeGetAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative), cancellationToken);
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return clock.Elapsed.TotalMilliseconds;
    }
}
