using System.Text.Json;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Storage;
using AnomalyMeta.Testing;
using Dapper;

namespace AnomalyMeta.Scoring.Tests;

public sealed class SeriesTagsTests(PostgresFixture database) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("anomalymeta-tags-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, IEnumerable<string> lines)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private string Observations(string name, params string[] keys)
    {
        var lines = new List<string> { "series_key,timestamp,value" };
        foreach (string key in keys)
        {
            for (int hour = 0; hour < 24; hour++)
            {
                lines.Add($"{key},2026-11-21T{hour:00}:00:00Z,{hour}");
            }
        }
        return Write(name, lines);
    }

    private async Task<Dictionary<string, string>> TagsOfAsync(string key)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        string json = await connection.ExecuteScalarAsync<string>("select tags::text from series where series_key = @key", new { key })
            ?? throw new InvalidOperationException($"series '{key}' is not registered");
        return JsonSerializer.Deserialize<Dictionary<string, string>>(json)!;
    }

    [Fact]
    public async Task A_tag_file_sets_its_keys_keeps_the_others_and_survives_a_new_ingest()
    {
        string a = "tag-" + Guid.NewGuid().ToString("N")[..8], b = a + "-b";
        var repository = new SeriesRepository(database.DataSource);
        string observations = Observations("obs.csv", a, b);
        string first = Write("first.csv", ["series_key,key,value", $"{a},team,payments", $"{a},region,eu", $"{b},region,us"]);

        var ingested = await new CsvIngest(repository).IngestAsync(observations, new CsvIngestOptions { TagsPath = first }, CancellationToken.None);
        var second = await new TagImport(new SeriesTagStore(database.DataSource))
            .ImportAsync(Write("second.csv", ["series_key,key,value", $"{a},region,us", $"{b},region,us"]), CancellationToken.None);
        await new CsvIngest(repository).IngestAsync(observations, new CsvIngestOptions(), CancellationToken.None);

        Assert.Equal(new TagMergeReport(3, 2, 2), ingested.Tags);
        // b already had region=us: not rewritten.
        Assert.Equal(new TagMergeReport(2, 2, 1), second);
        Assert.Equal(new Dictionary<string, string> { ["source"] = "obs.csv", ["team"] = "payments", ["region"] = "us" }, await TagsOfAsync(a));
        Assert.Equal(new Dictionary<string, string> { ["source"] = "obs.csv", ["region"] = "us" }, await TagsOfAsync(b));
    }

    [Theory]
    [InlineData("{0},team", "bad.csv line 2: 2 fields, the header has 3")]
    [InlineData("{0},,payments", "bad.csv line 2, field 'key': tag key ''")]
    [InlineData("{0},te am,payments", "bad.csv line 2, field 'key': tag key 'te am'")]
    [InlineData("{0},team,", "bad.csv line 2, field 'value': a tag value is empty")]
    [InlineData("{0},source,elsewhere.csv", "bad.csv line 2, field 'key': 'source' is the file a series was ingested from")]
    [InlineData("{0},team,a\n{0},team,b", "bad.csv line 3: series '{0}' gets tag 'team' a second time (first on line 2)")]
    [InlineData("{0},team,a\nno-such-series-{0},team,b", "bad.csv: line 3, field 'series_key': series 'no-such-series-{0}' is not registered")]
    public async Task A_bad_tag_file_is_named_by_file_line_and_field_and_writes_nothing(string rows, string expected)
    {
        string key = "bad-" + Guid.NewGuid().ToString("N")[..8];
        var repository = new SeriesRepository(database.DataSource);
        await new CsvIngest(repository).IngestAsync(Observations("obs.csv", key), new CsvIngestOptions(), CancellationToken.None);
        string path = Write("bad.csv", ["series_key,key,value", .. string.Format(System.Globalization.CultureInfo.InvariantCulture, rows, key).Split('\n')]);
        string newKey = key + "-new";

        var standalone = await Assert.ThrowsAsync<InvalidDataException>(
            () => new TagImport(new SeriesTagStore(database.DataSource)).ImportAsync(path, CancellationToken.None));
        var withIngest = await Assert.ThrowsAsync<InvalidDataException>(
            () => new CsvIngest(repository).IngestAsync(Observations("more.csv", newKey), new CsvIngestOptions { TagsPath = path }, CancellationToken.None));

        string message = string.Format(System.Globalization.CultureInfo.InvariantCulture, expected, key);
        Assert.Contains(message, standalone.Message, StringComparison.Ordinal);
        Assert.Contains(message, withIngest.Message, StringComparison.Ordinal);
        Assert.Equal(new Dictionary<string, string> { ["source"] = "obs.csv" }, await TagsOfAsync(key));
        await using var connection = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("select count(*) from series where series_key = @newKey", new { newKey }));
    }
}
