using System.Text.Json;
using AnomalyMeta.Testing;

namespace AnomalyMeta.Cli.Tests;

public sealed class CommandTests
{
    [Fact]
    public async Task The_demo_runs_end_to_end_and_writes_the_figures_as_json()
    {
        string database = "anomalymeta_clitest_" + Guid.NewGuid().ToString("N")[..10];
        string json = Path.Combine(Path.GetTempPath(), database + ".json");
        var fixture = new PostgresFixture();
        try
        {
            var result = await CliProcess.RunAsync("demo", "--series", "200", "--days", "14", "--iterations", "60",
                "--database", database, "--json", json);

            Assert.True(result.ExitCode == 0, result.Error);
            Assert.Contains("| F1 |", result.Output);
            Assert.Contains("select", result.Output);
            using var figures = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            foreach (string key in new[] { "series_scored", "anomalies_written", "precision", "recall", "f1", "seconds" })
            {
                Assert.True(figures.RootElement.TryGetProperty(key, out _), $"missing key {key}");
            }
            Assert.True(figures.RootElement.GetProperty("series_scored").GetInt32() >= 190);
        }
        finally
        {
            await fixture.DropDatabaseAsync(database);
            File.Delete(json);
        }
    }

    [Fact]
    public async Task A_malformed_date_is_refused_with_the_option_named_and_a_non_zero_exit()
    {
        var result = await CliProcess.RunAsync("score", "--as-of", "yesterday");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--as-of", result.Error + result.Output);
    }

    [Fact]
    public async Task A_malformed_csv_is_refused_by_ingest_with_its_line_and_field_named()
    {
        string path = Path.Combine(Path.GetTempPath(), $"anomalymeta-{Guid.NewGuid():N}.csv");
        await File.WriteAllLinesAsync(path, ["series_key,timestamp,value", "s1,2026-11-22T01:00:00Z,1.0", "s1,2026-11-22T02:00:00Z,n/a"]);
        try
        {
            var result = await CliProcess.RunAsync("ingest", path);

            Assert.Equal(1, result.ExitCode);
            Assert.Contains("line 3, field 'value': 'n/a' is not a finite number", result.Error);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task The_demo_refuses_a_history_too_short_to_find_a_weekly_period()
    {
        var result = await CliProcess.RunAsync("demo", "--days", "3");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--days at least 14", result.Error);
    }
}
