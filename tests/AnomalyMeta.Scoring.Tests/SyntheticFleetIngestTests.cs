using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Dapper;

namespace AnomalyMeta.Scoring.Tests;

public sealed class SyntheticFleetIngestTests(PostgresFixture database) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Chunks_written_at_once_store_every_day_and_give_series_ids_in_the_generators_order()
    {
        // 4,500 series: three chunks of at most 2,000, two of them written at once.
        var options = new SyntheticFleetOptions { SeriesCount = 4500, HistoryDays = 3, Seed = 5 };
        var generator = new SyntheticSeriesGenerator(options);

        long written = await new SyntheticFleetIngest(new SeriesRepository(database.DataSource)) { Writers = 2 }
            .IngestAsync(generator, CancellationToken.None);

        await using var connection = await database.DataSource.OpenConnectionAsync();
        var keys = (await connection.QueryAsync<string>("select series_key from series order by series_id")).AsList();
        Assert.Equal(Enumerable.Range(0, options.SeriesCount).Select(i => generator.Generate(i).Key), keys);
        Assert.Equal(options.SeriesCount * options.TotalDays, written);
        Assert.Equal(written, await connection.ExecuteScalarAsync<long>("select count(*) from observation_day"));
        // A series of the last chunk holds its generated values, day by day.
        var last = generator.Generate(options.SeriesCount - 1);
        var stored = (await connection.QueryAsync<float[]>(
            "select observation_points(o.points) from observation_day o join series s using (series_id) where s.series_key = @key order by o.day",
            new { key = last.Key })).SelectMany(points => points).ToArray();
        Assert.Equal(last.Values, stored);
    }
}

// Its own database: the generator's keys do not depend on the seed, so the fleet above would already hold them.
public sealed class SyntheticFleetIngestFailureTests(PostgresFixture database) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task A_chunk_refused_at_registration_stops_the_chunks_after_it_from_registering()
    {
        var options = new SyntheticFleetOptions { SeriesCount = 4500, HistoryDays = 3, Seed = 6 };
        var generator = new SyntheticSeriesGenerator(options);
        var repository = new SeriesRepository(database.DataSource);
        // A series of the second chunk is already registered with another step: that chunk's registration is refused.
        string clash = generator.Generate(2500).Key;
        await repository.RegisterAsync([new SeriesRegistration(clash, 900)], CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => new SyntheticFleetIngest(repository) { Writers = 2 }.IngestAsync(generator, CancellationToken.None));

        Assert.Contains($"series '{clash}' has step 900 s, registration asks for 3600 s", error.Message, StringComparison.Ordinal);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var stored = (await connection.QueryAsync<string>("select series_key from series")).ToHashSet();
        // Nothing of the refused chunk nor of the one after it; the first chunk, written at the same time, may stand.
        Assert.DoesNotContain(generator.Generate(2001).Key, stored);
        Assert.DoesNotContain(generator.Generate(4499).Key, stored);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>(
            "select count(*) from observation_day o join series s using (series_id) where s.step_seconds = 900"));
    }
}
