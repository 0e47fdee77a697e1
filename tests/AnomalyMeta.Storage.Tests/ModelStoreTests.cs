using AnomalyMeta.Storage.Records;
using AnomalyMeta.Storage.Tests.Infrastructure;
using AnomalyMeta.Testing;

namespace AnomalyMeta.Storage.Tests;

[Collection(PostgresTests.Name)]
public sealed class ModelStoreTests(PostgresFixture postgres)
{
    private readonly ModelStore _models = new(postgres.DataSource);
    private readonly ClusteringStore _clusterings = new(postgres.DataSource);

    [Fact]
    public async Task The_model_store_returns_the_newest_version_of_each_cluster()
    {
        var version = await SaveClusteringAsync(clusterCount: 3);

        var first = await _models.SaveAsync(version, 0, "maml", """{"inner_steps":3}""", null, [1, 1], CancellationToken.None);
        var second = await _models.SaveAsync(version, 0, "maml", """{"inner_steps":5}""", """{"smape":0.12}""", [2, 2, 2], CancellationToken.None);
        var other = await _models.SaveAsync(version, 2, "maml", "{}", null, [9], CancellationToken.None);
        var latest = await _models.LoadLatestAsync(version, CancellationToken.None);

        Assert.True(first < second && second < other, "model ids are identities, increasing");
        Assert.Equal([0, 2], latest.Select(m => m.ClusterId));
        Assert.Equal((second, 2), (latest[0].ModelId, latest[0].ModelVersion));
        Assert.Equal([2, 2, 2], latest[0].Checkpoint);
        Assert.Contains("inner_steps", latest[0].ConfigurationJson, StringComparison.Ordinal);
        Assert.Contains("smape", latest[0].MetricsJson, StringComparison.Ordinal);
        Assert.Equal((other, 1, "{}"), (latest[1].ModelId, latest[1].ModelVersion, latest[1].MetricsJson));
        Assert.Equal([9], latest[1].Checkpoint);
        Assert.Empty(await _models.LoadLatestAsync(version + 1000, CancellationToken.None));
    }

    [Fact]
    public async Task Saving_a_model_for_a_cluster_that_does_not_exist_says_so()
    {
        var version = await SaveClusteringAsync(clusterCount: 1);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => _models.SaveAsync(version, 7, "maml", "{}", null, [1], CancellationToken.None));

        Assert.Contains($"Cluster 7 of clustering version {version}", error.Message, StringComparison.Ordinal);
    }

    private async Task<int> SaveClusteringAsync(int clusterCount)
    {
        var version = await _clusterings.NextVersionAsync(CancellationToken.None);
        var clusters = Enumerable.Range(0, clusterCount).Select(id => new ClusterSummary(id, 24, null, 10, [id, id])).ToList();
        await _clusterings.SaveAsync(new StoredClustering(version, "kmeans", "{}", 10 * clusterCount, null, clusters), CancellationToken.None);
        return version;
    }
}
