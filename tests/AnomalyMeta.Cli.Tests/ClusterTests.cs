using System.Text.Json;
using AnomalyMeta.Testing;

namespace AnomalyMeta.Cli.Tests;

/// <summary>
/// The sharded morning run on a real Quartz cluster: two service processes on one database, one killed with SIGKILL
/// while it scores a shard, driven through `bench scale` the way an operator would measure it.
/// </summary>
public sealed class ClusterTests
{
    [Fact]
    public async Task When_an_instance_is_killed_mid_run_the_other_one_finishes_its_shard_and_every_series_is_scored_once()
    {
        string database = "anomalymeta_clustertest_" + Guid.NewGuid().ToString("N")[..10];
        string json = Path.Combine(Path.GetTempPath(), database + ".json");
        var fixture = new PostgresFixture();
        try
        {
            var result = await CliProcess.RunAsync("bench", "scale", "--series", "1500", "--days", "15", "--iterations", "10",
                "--instances", "2", "--shards", "6", "--batch-size", "10", "--kill-one", "--database", database, "--json", json);

            Assert.True(result.ExitCode == 0, result.Output + result.Error);
            using var figures = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var root = figures.RootElement;
            Assert.True(root.GetProperty("exactly_once").GetBoolean(), result.Output);
            Assert.Equal(2, root.GetProperty("instances").GetInt32());
            string killed = root.GetProperty("killed_instance").GetString()!;
            Assert.StartsWith("bench-", killed, StringComparison.Ordinal);
            Assert.True(root.GetProperty("recovered_shards").GetInt32() >= 1, result.Output);
            Assert.True(root.GetProperty("recovered_by_survivor").GetBoolean(), result.Output);
            Assert.Contains($"| killed | {killed} after", result.Output, StringComparison.Ordinal);
        }
        finally
        {
            await fixture.DropDatabaseAsync(database);
            File.Delete(json);
        }
    }
}
