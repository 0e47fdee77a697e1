using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Service.Api;
using AnomalyMeta.Storage;
using AnomalyMeta.Testing;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Service.Tests;

/// <summary>
/// POST /api/observations and the staging table against a throwaway database, served in process: what they store is
/// compared with what the CLI's <see cref="CsvIngest"/> stores from the same readings.
/// </summary>
public sealed class ObservationsApiTests : ServiceOnThrowawayDatabase, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("anomalymeta-http-ingest-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// Readings of three series as (key suffix, timestamp text, value text or "" for a blank): an hourly series over two
    /// days with a blank, a five-minute series with a repeated timestamp, and off-grid readings written with an offset
    /// and in NAB's form. Step inference, aggregation and blanks all take part.
    /// </summary>
    private static readonly (string Key, string Timestamp, string Value)[] Readings = BuildReadings();

    private static (string, string, string)[] BuildReadings()
    {
        var rows = new List<(string, string, string)>();
        var start = new DateTime(2026, 11, 21, 0, 0, 0, DateTimeKind.Utc);
        for (int hour = 0; hour < 48; hour++)
        {
            rows.Add(("hourly", $"{start.AddHours(hour):yyyy-MM-ddTHH:mm:ssZ}", hour == 5 ? "" : (hour * 1.5).ToString(CultureInfo.InvariantCulture)));
        }
        for (int i = 0; i < 30; i++)
        {
            rows.Add(("five-min", $"{start.AddMinutes(5 * i):yyyy-MM-ddTHH:mm:ssZ}", (100 + i).ToString(CultureInfo.InvariantCulture)));
        }
        rows.Add(("five-min", $"{start.AddMinutes(10):yyyy-MM-ddTHH:mm:ssZ}", "7.25"));
        for (int hour = 0; hour < 24; hour++)
        {
            // Off the hour: 13 minutes past, written at +01:00, every other line in yyyy-MM-dd HH:mm:ss (UTC).
            var time = start.AddHours(hour).AddMinutes(13);
            string text = hour % 2 == 0 ? $"{time.AddHours(1):yyyy-MM-ddTHH:mm:ss}+01:00" : $"{time:yyyy-MM-dd HH:mm:ss}";
            rows.Add(("off-grid", text, (hour % 4 == 0 ? -2.5 : hour).ToString(CultureInfo.InvariantCulture)));
        }
        return [.. rows];
    }

    private static string Csv(string prefix, IEnumerable<(string Key, string Timestamp, string Value)> rows) =>
        "series_key,timestamp,value\n" + string.Concat(rows.Select(r => $"{prefix}{r.Key},{r.Timestamp},{r.Value}\n"));

    private static string JsonLines(string prefix, IEnumerable<(string Key, string Timestamp, string Value)> rows) =>
        string.Concat(rows.Select(r => $"{{\"series_key\":\"{prefix}{r.Key}\",\"timestamp\":\"{r.Timestamp}\",\"value\":{(r.Value.Length == 0 ? "null" : r.Value)}}}\n"));

    private static HttpRequestMessage Post(string body, string contentType, string? key, string query = "")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/observations" + (query.Length > 0 ? "?" + query : ""))
        {
            Content = new StringContent(body, Encoding.UTF8, contentType),
        };
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }
        return request;
    }

    private async Task<IngestReport> CliIngestAsync(string prefix, IEnumerable<(string, string, string)> rows, CsvIngestOptions options)
    {
        string path = Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".csv");
        await File.WriteAllTextAsync(path, Csv(prefix, rows));
        return await Service.Services.GetRequiredService<CsvIngest>().IngestAsync(path, options, CancellationToken.None);
    }

    /// <summary>Every stored day of the series whose key starts with <paramref name="prefix"/>, by key without it.</summary>
    private async Task<SortedDictionary<string, (int Step, float[] Points)>> DaysAsync(string prefix)
    {
        await using var connection = await Database.DataSource.OpenConnectionAsync();
        var rows = await connection.QueryAsync<(string Key, int Step, DateTime Day, float[] Points)>(
            """
            select s.series_key, s.step_seconds, o.day::timestamp, observation_points(o.points)
            from observation_day o join series s using (series_id)
            where starts_with(s.series_key, @prefix)
            """, new { prefix });
        var days = new SortedDictionary<string, (int, float[])>(StringComparer.Ordinal);
        foreach (var (key, step, day, points) in rows)
        {
            days[$"{key[prefix.Length..]} {day:yyyy-MM-dd}"] = (step, points);
        }
        return days;
    }

    private async Task<int> SeriesCountAsync(string prefix)
    {
        await using var connection = await Database.DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>("select count(*) from series where starts_with(series_key, @prefix)", new { prefix });
    }

    private static string Prefix(string kind) => $"{kind}-{Guid.NewGuid():N}"[..16] + "/";

    [Theory]
    [InlineData("text/csv", "")]
    [InlineData("application/x-ndjson", "")]
    [InlineData("text/csv", "step_seconds=1800&aggregate=max")]
    [InlineData("application/x-ndjson", "aggregate=sum&time_zone=Europe/Paris")]
    public async Task Observations_posted_are_stored_exactly_as_the_cli_stores_the_same_readings(string contentType, string query)
    {
        using var client = Service.CreateClient();
        string key = await KeyAsync("feed");
        string viaHttp = Prefix("http");
        string viaCli = Prefix("cli");
        var (options, problem) = ObservationsApi.OptionsFrom(new QueryCollection(QueryHelpers.ParseQuery(query)));
        Assert.Null(problem);
        // A correction after the first delivery: one point changed, one blank (which must not erase), one new point.
        var correction = new[] { ("hourly", "2026-11-21T07:00:00Z", "70"), ("hourly", "2026-11-21T08:00:00Z", ""), ("five-min", "2026-11-21T02:30:00Z", "9") };
        string Body(string prefix, IEnumerable<(string, string, string)> rows) => contentType == "text/csv" ? Csv(prefix, rows) : JsonLines(prefix, rows);

        var first = await client.SendAsync(Post(Body(viaHttp, Readings), contentType, key, query));
        var second = await client.SendAsync(Post(Body(viaHttp, correction), contentType, key, query));
        var cliFirst = await CliIngestAsync(viaCli, Readings, options!);
        await CliIngestAsync(viaCli, correction, options!);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var report = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(Readings.Length, report.GetProperty("rows").GetInt32());
        Assert.Equal(3, report.GetProperty("series").GetInt32());
        Assert.Equal(cliFirst.DayRows, report.GetProperty("dayRows").GetInt64());
        Assert.Equal(cliFirst.AggregatedPoints, report.GetProperty("aggregatedPoints").GetInt32());
        var http = await DaysAsync(viaHttp);
        var cli = await DaysAsync(viaCli);
        Assert.Equal(cli.Keys, http.Keys);
        foreach (var (day, (step, points)) in cli)
        {
            Assert.Equal(step, http[day].Step);
            Assert.Equal(points, http[day].Points);
        }
        Assert.Equal(4, http.Count); // hourly: 2 days; five-minute and off-grid: 1 each
    }

    [Theory]
    [InlineData("text/csv", "series_key,timestamp,value\nk,2026-11-22T01:00:00Z,1.0\nk,2026-11-22T02:00:00Z,abc\nk,2026-11-22T03:00:00Z,1.0\n", 3, "value", "request line 3, field 'value': 'abc' is not a finite number")]
    [InlineData("text/csv", "series_key,timestamp,value\nk,2026-11-22T01:00:00Z,1.0\nk,yesterday,1.0\n", 3, "timestamp", "request line 3, field 'timestamp'")]
    [InlineData("text/csv", "series_key,timestamp,value\nk,2026-11-22T01:00:00Z,1.0\nk,2026-11-22T02:00:00Z\n", 3, null, "request line 3: 2 fields, the header has 3")]
    [InlineData("application/x-ndjson", "{\"series_key\":\"k\",\"timestamp\":\"2026-11-22T01:00:00Z\",\"value\":1}\n{\"series_key\":\"k\",\"timestamp\":\"2026-11-22T02:00:00Z\",\"value\":1,\"unit\":\"ms\"}\n", 2, "unit", "request line 2, field 'unit': unknown field")]
    [InlineData("application/x-ndjson", "{\"series_key\":\"k\",\"timestamp\":\"2026-11-22T01:00:00Z\",\"value\":1}\n{\"series_key\":\"k\",\"timestamp\":\"2026-11-22T02:00:00Z\",\"value\":\"1.5\"}\n", 2, "value", "request line 2, field 'value': expected a number or null")]
    [InlineData("application/x-ndjson", "{\"series_key\":\"k\",\"timestamp\":\"2026-11-22T01:00:00Z\",\"value\":1}\n{\"series_key\":\"k\",\"timestamp\":\"2026-11-22T02:00:00Z\"}\n", 2, "value", "request line 2, field 'value': missing")]
    [InlineData("application/x-ndjson", "{\"series_key\":\"k\",\"timestamp\":\"2026-11-22T01:00:00Z\",\"value\":1}\n{\"series_key\":\"k\",\"timestamp\":\"2026-11-22T02:00:00Z\",\"value\":1e39}\n", 2, "value", "request line 2, field 'value': '1e39' is above 1E+30")]
    [InlineData("application/x-ndjson", "{\"series_key\":\"k\",\"timestamp\":\"2026-11-22T01:00:00Z\",\"value\":1}\n\n{\"series_key\":\"k\",\n", 3, null, "request line 3: malformed JSON")]
    [InlineData("application/x-ndjson", "{\"series_key\":\" k\",\"timestamp\":\"2026-11-22T01:00:00Z\",\"value\":1}\n", 1, "series_key", "request line 1, field 'series_key': ' k' has surrounding spaces")]
    public async Task A_bad_line_is_a_400_naming_its_line_and_field_and_nothing_of_the_request_is_written(
        string contentType, string body, int line, string? field, string expected)
    {
        using var client = Service.CreateClient();
        string key = await KeyAsync("feed");
        // A stored day the request would have changed: it must stay as it was.
        string before = "series_key,timestamp,value\nk,2026-11-22T01:00:00Z,5\nk,2026-11-22T02:00:00Z,5\n";
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Post(before, "text/csv", key))).StatusCode);
        var stored = await DaysAsync("k");

        var response = await client.SendAsync(Post(body, contentType, key));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(expected, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var rejected = Assert.Single(problem.GetProperty("rejected").EnumerateArray().ToList());
        Assert.Equal(line, rejected.GetProperty("line").GetInt32());
        Assert.Equal(field, rejected.GetProperty("field").GetString());
        var after = await DaysAsync("k");
        Assert.Equal(stored.Keys, after.Keys);
        Assert.Equal(stored.Values.Select(d => d.Points), after.Values.Select(d => d.Points));
        Assert.Equal(1, await SeriesCountAsync(""));
    }

    [Fact]
    public async Task Posting_observations_needs_a_live_key_and_a_known_format_and_writes_nothing_otherwise()
    {
        using var client = Service.CreateClient();
        string key = await KeyAsync("feed");
        string prefix = Prefix("anon");
        string body = Csv(prefix, Readings);

        var anonymous = await client.SendAsync(Post(body, "text/csv", null));
        var wrong = await client.SendAsync(Post(body, "text/csv", key + "x"));
        var json = await client.SendAsync(Post("[]", "application/json", key));
        var badOption = await client.SendAsync(Post(body, "text/csv", key, "step_seconds=7"));
        var unknownOption = await client.SendAsync(Post(body, "text/csv", key, "stepSeconds=3600"));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badOption.StatusCode);
        Assert.Contains("step_seconds", (await badOption.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, unknownOption.StatusCode);
        Assert.Equal(0, await SeriesCountAsync(prefix));
    }

    [Fact]
    public async Task A_step_that_conflicts_with_a_registered_one_is_a_409_and_writes_nothing()
    {
        using var client = Service.CreateClient();
        string key = await KeyAsync("feed");
        string prefix = Prefix("conflict");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Post(Csv(prefix, Readings), "text/csv", key))).StatusCode);
        var stored = await DaysAsync(prefix);

        var response = await client.SendAsync(Post(Csv(prefix, [("hourly", "2026-11-23T00:00:00Z", "1")]), "text/csv", key, "step_seconds=300"));

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("registered step", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(stored.Keys, (await DaysAsync(prefix)).Keys);
    }

    private async Task StageAsync(string prefix, IEnumerable<(string Key, string Timestamp, string Value)> rows, string batch)
    {
        await using var connection = await Database.DataSource.OpenConnectionAsync();
        foreach (var (key, timestamp, value) in rows)
        {
            // Parsed here as the CSV reads it (no zone = UTC), not by PostgreSQL in the session's time zone.
            var ts = DateTimeOffset.Parse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).UtcDateTime;
            await connection.ExecuteAsync(
                "insert into observation_staging (series_key, ts, value, batch) values (@key, @ts, @value::real, @batch)",
                new { key = prefix + key, ts, value = value.Length == 0 ? null : value, batch });
        }
    }

    private async Task<long> StagedCountAsync()
    {
        await using var connection = await Database.DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("select count(*) from observation_staging");
    }

    [Fact]
    public async Task Staged_rows_are_merged_as_the_cli_merges_them_deleted_in_the_same_transaction_and_merged_once()
    {
        string staged = Prefix("staged");
        string viaCli = Prefix("cli");
        var staging = Service.Services.GetRequiredService<StagingIngest>();
        await StageAsync(staged, Readings, "load-1");

        var report = await staging.MergeAsync(new CsvIngestOptions(), CancellationToken.None);
        long left = await StagedCountAsync();
        var afterFirst = await DaysAsync(staged);
        // A later load: the next merge takes it and only it.
        await StageAsync(staged, [("hourly", "2026-11-22T23:00:00Z", "99")], "load-2");
        var next = await staging.MergeAsync(new CsvIngestOptions(), CancellationToken.None);
        var empty = await staging.MergeAsync(new CsvIngestOptions(), CancellationToken.None);
        await CliIngestAsync(viaCli, Readings, new CsvIngestOptions());

        Assert.Equal(Readings.Length, report.Rows);
        Assert.Equal(0, left);
        Assert.Equal(1, next.Rows);
        Assert.Equal(0, empty.Rows);
        Assert.Equal(0, await StagedCountAsync());
        var cli = await DaysAsync(viaCli);
        Assert.Equal(cli.Keys, afterFirst.Keys);
        foreach (var (day, (step, points)) in cli)
        {
            Assert.Equal(step, afterFirst[day].Step);
            Assert.Equal(points, afterFirst[day].Points);
        }
        Assert.Equal(99f, (await DaysAsync(staged))["hourly 2026-11-22"].Points[23]);
    }

    [Fact]
    public async Task A_bad_staged_row_refuses_the_merge_naming_the_row_and_everything_stays_staged()
    {
        string staged = Prefix("bad");
        var staging = Service.Services.GetRequiredService<StagingIngest>();
        await StageAsync(staged, Readings.Take(10), "good-load");
        await StageAsync(staged, [("hourly", "2026-11-22T03:00:00Z", "NaN")], "bad-load");
        long before = await StagedCountAsync();

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => staging.MergeAsync(new CsvIngestOptions(), CancellationToken.None));
        var fromMorning = await staging.MergeBeforeScoringAsync(CancellationToken.None);

        Assert.Contains("field 'value': 'NaN' is not a finite number", error.Message, StringComparison.Ordinal);
        Assert.Contains($"series_key '{staged}hourly', ts 2026-11-22T03:00:00Z", error.Message, StringComparison.Ordinal);
        Assert.Contains("batch 'bad-load'", error.Message, StringComparison.Ordinal);
        Assert.Equal("value", ObservationErrors.FieldOf(error));
        Assert.Null(fromMorning);
        Assert.Equal(before, await StagedCountAsync());
        Assert.Equal(0, await SeriesCountAsync(staged));
    }
}
