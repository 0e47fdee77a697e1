using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Storage;
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
            "select o.points from observation_day o join series s using (series_id) where s.series_key = @key order by o.day",
            new { key = last.Key })).SelectMany(points => points).ToArray();
        Assert.Equal(last.Values, stored);
    }
}
