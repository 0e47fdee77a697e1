using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Testing;

namespace AnomalyMeta.Scoring.Tests;

/// <summary>A throwaway database holding a small fleet that is ingested, clustered and trained once for a test class.</summary>
public sealed class PreparedFleetFixture : IAsyncLifetime
{
    private readonly PostgresFixture _database = new();

    internal SmallFleet Fleet { get; private set; } = null!;

    public ClusteringReport Clustering { get; private set; } = null!;

    public Npgsql.NpgsqlDataSource DataSource => _database.DataSource;

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        Fleet = new SmallFleet(_database.DataSource);
        Clustering = await Fleet.PrepareAsync(CancellationToken.None);
    }

    public Task DisposeAsync() => _database.DisposeAsync();
}
