using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Storage;
using AnomalyMeta.Testing;

namespace AnomalyMeta.Scoring.Tests;

public sealed class CsvIngestTests(PostgresFixture database) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("anomalymeta-csv-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_csv_file_becomes_day_rows_with_missing_points_as_NaN()
    {
        string key = "csv-" + Guid.NewGuid().ToString("N")[..8];
        var lines = new List<string> { "series_key,timestamp,value" };
        for (int hour = 0; hour < 48; hour++)
        {
            string value = hour == 5 ? "" : (hour * 1.5).ToString(System.Globalization.CultureInfo.InvariantCulture);
            lines.Add($"{key},{new DateTime(2026, 11, 21, 0, 0, 0, DateTimeKind.Utc).AddHours(hour):yyyy-MM-ddTHH:mm:ssZ},{value}");
        }
        string path = Write("good.csv", lines);
        var repository = new SeriesRepository(database.DataSource);

        var report = await new CsvIngest(repository).IngestAsync(path, 3600, CancellationToken.None);

        Assert.Equal(48, report.Rows);
        Assert.Equal(2, report.DayRows);
        await foreach (var batch in repository.ReadHistoryAsync(new DateOnly(2026, 11, 22), 2, 10_000, CancellationToken.None))
        {
            for (int i = 0; i < batch.Count; i++)
            {
                var window = batch.PointsOf(i);
                if (window.Length == 48 && window[47] == 47 * 1.5f)
                {
                    Assert.True(float.IsNaN(window[5]));
                    Assert.Equal(6f, window[4]);
                    return;
                }
            }
        }
        Assert.Fail("the ingested series was not read back");
    }

    [Theory]
    [InlineData("s1,2026-11-22T03:00:00Z,abc", "line 3, field 'value'")]
    [InlineData("s1,yesterday,1.0", "line 3, field 'timestamp'")]
    [InlineData("s1,2026-11-22T03:30:00Z,1.0", "line 3, field 'timestamp'")]
    [InlineData(",2026-11-22T03:00:00Z,1.0", "line 3, field 'series_key'")]
    [InlineData("s1,2026-11-22T01:00:00Z,2.0", "line 3: series 's1' has a second value")]
    [InlineData("s1,2026-11-22T03:00:00Z,\"1\"5", "line 3: malformed CSV")]
    public async Task A_malformed_line_is_named_with_file_line_and_field_and_nothing_is_written(string badLine, string expected)
    {
        string path = Write("bad.csv", ["series_key,timestamp,value", "s1,2026-11-22T01:00:00Z,1.0", badLine, "s2,2026-11-22T04:00:00Z,1.0"]);
        var repository = new SeriesRepository(database.DataSource);
        var queries = new AnomalyQueries(database.DataSource);
        int before = await queries.SeriesCountAsync(CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => new CsvIngest(repository).IngestAsync(path, 3600, CancellationToken.None));

        Assert.StartsWith("bad.csv", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.Equal(before, await queries.SeriesCountAsync(CancellationToken.None));
    }

    [Fact]
    public void A_file_without_the_expected_header_is_refused_with_the_header_named()
    {
        string path = Write("header.csv", ["key,time,value", "s1,2026-11-22T01:00:00Z,1.0"]);

        var error = Assert.Throws<InvalidDataException>(() => ObservationCsv.Read(path, 3600));

        Assert.Contains("header.csv line 1: no 'series_key' column", error.Message);
    }

    private string Write(string name, IEnumerable<string> lines)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllLines(path, lines);
        return path;
    }
}
