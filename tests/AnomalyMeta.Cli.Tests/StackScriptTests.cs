using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using AnomalyMeta.Testing;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Cli.Tests;

/// <summary>
/// deploy/run-stack.sh, docker-compose.yml's sequence without Docker, on an empty database: migrations, two service
/// replicas in Quartz clustered mode and the one-shot loader, which gets a fleet scored through the HTTP API alone.
/// </summary>
public sealed class StackScriptTests
{
    [Fact]
    public async Task The_compose_sequence_takes_an_empty_database_to_a_scored_day_through_the_http_api()
    {
        const int Series = 120, Days = 15;
        string database = "anomalymeta_stacktest_" + Guid.NewGuid().ToString("N")[..10];
        string work = Directory.CreateTempSubdirectory("anomalymeta-stack-test").FullName;
        string json = Path.Combine(work, "outcome.json");
        var fixture = new PostgresFixture();
        await using (var server = await PostgresFixture.OpenServerAsync(fixture.ConnectionStringFor("postgres")))
        {
            await server.ExecuteAsync($"create database \"{database}\"");
        }
        try
        {
            string connectionString = fixture.ConnectionStringFor(database);
            var (exitCode, output) = await RunStackAsync(new Dictionary<string, string>
            {
                ["ConnectionStrings__Postgres"] = connectionString,
                ["ANOMALYMETA_STACK_BIN"] = AppContext.BaseDirectory,
                ["ANOMALYMETA_STACK_PORT"] = TwoFreePorts().ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["ANOMALYMETA_STACK_LOGS"] = Path.Combine(work, "logs"),
                ["Training__Iterations"] = "30",
                ["Scoring__Shards"] = "2",
            }, "--series", $"{Series}", "--days", $"{Days}", "--series-per-request", "50", "--json", json);

            Assert.True(exitCode == 0, output);
            using var outcome = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var root = outcome.RootElement;
            Assert.Equal(Series * (Days + 1) * 24L, root.GetProperty("rows_sent").GetInt64());
            Assert.Equal(3, root.GetProperty("ingest_requests").GetInt32());
            Assert.Equal("succeeded", root.GetProperty("run_status").GetString());
            Assert.True(root.GetProperty("anomalies_written").GetInt32() > 0, output);

            // What the database says, not only what the loader printed: every series was stored, clustered, and scored
            // once by a run asked for with the loader's key; the retrain was asked for over HTTP too.
            await using var connection = new NpgsqlConnection(connectionString);
            long runId = root.GetProperty("run_id").GetInt64();
            var run = await connection.QuerySingleAsync<(string Status, string TriggeredBy, int? Clustering)>(
                "select status, triggered_by, clustering_version from run where run_id = @runId", new { runId });
            Assert.Equal("succeeded", run.Status);
            Assert.StartsWith("apikey:demo-loader-", run.TriggeredBy, StringComparison.Ordinal);
            Assert.Equal(Series, await connection.ExecuteScalarAsync<int>("select count(*) from series"));
            Assert.Equal(Series, await connection.ExecuteScalarAsync<int>("select count(distinct series_id) from run_series where run_id = @runId", new { runId }));
            Assert.Equal(run.Clustering, await connection.ExecuteScalarAsync<int?>("select cluster_version from clustering where live_at is not null order by live_at desc limit 1"));
            string retrainedBy = await connection.ExecuteScalarAsync<string>("select triggered_by from job_run where kind = 'retrain' and status = 'succeeded'") ?? "";
            Assert.Contains("demo loader: first clustering and models via quartz:manual-", retrainedBy, StringComparison.Ordinal);
            // Both replicas joined the one Quartz cluster.
            Assert.Equal(2, await connection.ExecuteScalarAsync<int>("select count(*) from qrtz_scheduler_state where instance_name like 'stack-%'"));
        }
        finally
        {
            await fixture.DropDatabaseAsync(database);
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task The_loader_refuses_an_address_that_is_not_http_and_gives_up_on_a_silent_service_saying_what_it_waited_for()
    {
        var notHttp = await CliProcess.RunAsync("load-demo", "--url", "ftp://127.0.0.1/", "--api-key", "k");
        int silent = TwoFreePorts();   // nothing listens there
        var nobody = await CliProcess.RunAsync("load-demo", "--url", $"http://127.0.0.1:{silent}", "--api-key", "k", "--timeout-seconds", "2");

        Assert.Equal(1, notHttp.ExitCode);
        Assert.Contains("--url 'ftp://127.0.0.1/' is not an http(s) address", notHttp.Error, StringComparison.Ordinal);
        Assert.Equal(1, nobody.ExitCode);
        Assert.Contains($"gave up after 2 s waiting for the service to answer /health/live at http://127.0.0.1:{silent}/", nobody.Error, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Output)> RunStackAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "deploy", "run-stack.sh"));
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "AnomalyMeta.sln")))
            {
                return folder.FullName;
            }
        }
        throw new InvalidOperationException($"No AnomalyMeta.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>A port whose next one is free too (the script puts its replicas on port and port + 1).</summary>
    private static int TwoFreePorts()
    {
        for (int attempt = 0; ; attempt++)
        {
            using var first = new TcpListener(IPAddress.Loopback, 0);
            first.Start();
            int port = ((IPEndPoint)first.LocalEndpoint).Port;
            try
            {
                using var second = new TcpListener(IPAddress.Loopback, port + 1);
                second.Start();
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
            }
        }
    }
}
