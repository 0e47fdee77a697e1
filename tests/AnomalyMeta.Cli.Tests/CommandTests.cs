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
}
