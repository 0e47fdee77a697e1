using System.Globalization;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Storage;
using AnomalyMeta.Testing;
using Npgsql;

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
    [InlineData(",2026-11-22T03:00:00Z,1.0", "line 3, field 'series_key'")]
    [InlineData("s1,2026-11-22T03:00:00Z,\"1\"5", "line 3: malformed CSV")]
    [InlineData("s1,01/02/2026,1.0", "line 3, field 'timestamp': '01/02/2026' is not a date and time")]
    [InlineData("s1,2026-11-22T03:00:00Z", "line 3: 2 fields, the header has 3")]
    [InlineData("s1,2026-11-22T03:00:00Z,1.0,7", "line 3: 4 fields, the header has 3")]
    [InlineData("s1 ,2026-11-22T03:00:00Z,1.0", "line 3, field 'series_key': 's1 ' has surrounding spaces")]
    [InlineData("\"s\u00071\",2026-11-22T03:00:00Z,1.0", "line 3, field 'series_key': 's\\u00071' has surrounding spaces, control characters")]
    [InlineData("s1,0001-01-01T00:00:00Z,1.0", "line 3, field 'timestamp': '0001-01-01T00:00:00Z' is outside the accepted range 1900-01-01 to 2200-01-01")]
    [InlineData("s1,2200-01-01 00:00:00,1.0", "line 3, field 'timestamp': '2200-01-01 00:00:00' is outside the accepted range")]
    [InlineData("s1,2026-11-22T03:00:00Z,-3e38", "line 3, field 'value': '-3e38' is above 1E+30 in magnitude (scoring works in 32-bit floats")]
    [InlineData("s1,2026-11-22T03:00:00Z,1e39", "line 3, field 'value': '1e39' is above 1E+30")]
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

    [Fact]
    public async Task Off_grid_timestamps_are_averaged_into_their_step_slot()
    {
        string key = Key("offgrid");
        string path = Write("offgrid.csv",
        [
            "series_key,timestamp,value",
            $"{key},2026-10-01T00:05:00Z,1",
            $"{key},2026-10-01T00:20:00Z,2",
            $"{key},2026-10-01T00:50:30Z,6",
            $"{key},2026-10-01T01:59:59.5Z,7",
            $"{key},2026-10-01T05:00:00+02:00,8",
        ]);

        var report = await Ingest(path, new CsvIngestOptions { StepSeconds = 3600 });

        var day = await StoredDayAsync(key, new DateOnly(2026, 10, 1));
        Assert.Equal(3f, day[0], 1e-6f);
        Assert.Equal(7f, day[1]);
        Assert.Equal(8f, day[3]);
        Assert.True(float.IsNaN(day[2]));
        Assert.Equal((5, 1, 0), (report.Rows, report.AggregatedPoints, report.RowsRejected));
        Assert.Equal(new SeriesStep(key, 3600, StepSource.Given, null), Assert.Single(report.Steps));
    }

    [Fact]
    public async Task Repeated_timestamps_are_averaged_and_blanks_neither_count_nor_erase_the_slot()
    {
        string key = Key("repeat");
        string path = Write("repeat.csv",
        [
            "series_key,timestamp,value",
            $"{key},2026-10-02T00:00:00Z,2",
            $"{key},2026-10-02T00:00:00Z,",
            $"{key},2026-10-02T00:00:00Z,4",
            $"{key},2026-10-02T01:00:00Z,",
            $"{key},2026-10-02T02:00:00Z,5",
            $"{key},2026-10-02T02:00:00Z,",
            $"{key},2026-10-02T03:00:00Z,",
            $"{key},2026-10-02T03:00:00Z,",
        ]);

        var report = await Ingest(path, new CsvIngestOptions { StepSeconds = 3600 });

        var day = await StoredDayAsync(key, new DateOnly(2026, 10, 2));
        Assert.Equal(3f, day[0]);
        Assert.True(float.IsNaN(day[1]));
        Assert.Equal(5f, day[2]);
        Assert.True(float.IsNaN(day[3]));
        Assert.Equal(1, report.AggregatedPoints);
    }

    [Theory]
    [InlineData(ObservationAggregate.Mean, 3f)]
    [InlineData(ObservationAggregate.Sum, 9f)]
    [InlineData(ObservationAggregate.Min, 1f)]
    [InlineData(ObservationAggregate.Max, 5f)]
    [InlineData(ObservationAggregate.First, 3f)]
    [InlineData(ObservationAggregate.Last, 5f)]
    public async Task The_aggregate_chooses_how_a_slot_combines_its_values(ObservationAggregate aggregate, float expected)
    {
        string key = Key("aggregate");
        // Out of time order in the file: first and last follow the timestamps, and a blank takes no part.
        string path = Write("aggregate.csv",
        [
            "series_key,timestamp,value",
            $"{key},2026-10-03T00:30:00Z,5",
            $"{key},2026-10-03T00:00:00Z,3",
            $"{key},2026-10-03T00:10:00Z,",
            $"{key},2026-10-03T00:20:00Z,1",
            $"{key},2026-10-03T01:00:00Z,4",
        ]);

        var report = await Ingest(path, new CsvIngestOptions { StepSeconds = 3600, Aggregate = aggregate });

        var day = await StoredDayAsync(key, new DateOnly(2026, 10, 3));
        Assert.Equal(expected, day[0], 1e-6f);
        Assert.Equal(4f, day[1]);
        Assert.Equal(1, report.AggregatedPoints);
    }

    [Fact]
    public async Task A_sum_beyond_the_float_safe_range_is_refused_by_its_lines_and_nothing_is_written()
    {
        string key = Key("sum");
        string path = Write("sum.csv",
        [
            "series_key,timestamp,value",
            $"{key},2026-10-04T00:00:00Z,9e29",
            $"{key},2026-10-04T00:30:00Z,9e29",
        ]);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Ingest(path, new CsvIngestOptions { StepSeconds = 3600, Aggregate = ObservationAggregate.Sum }));

        Assert.StartsWith($"sum.csv lines 2-3: series '{key}' at 2026-10-04T00:00:00Z: the sum of 2 values", error.Message);
        Assert.Null(await StepOfAsync(key));
    }

    [Fact]
    public async Task The_step_of_jittered_five_minute_data_with_gaps_is_inferred_from_NAB_style_timestamps()
    {
        string key = Key("infer");
        var random = new Random(42);
        var lines = new List<string> { "series_key,timestamp,value" };
        var start = new DateTime(2026, 10, 5, 0, 0, 0, DateTimeKind.Utc);
        var expected = new Dictionary<int, float>();
        for (int slot = 0; slot < 2 * 288; slot++)
        {
            // Two outages: one of an hour, one of three hours.
            if (slot is >= 40 and < 52 or >= 300 and < 336)
            {
                continue;
            }
            // Each reading arrives up to 40 s late: consecutive spacings spread over 260-340 s.
            var time = start.AddSeconds((slot * 300) + random.Next(0, 40));
            float value = slot * 0.5f;
            expected[slot] = value;
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{key},{time:yyyy-MM-dd HH:mm:ss},{value}"));
        }
        string path = Write("nab.csv", lines);

        var report = await Ingest(path, new CsvIngestOptions());

        Assert.Equal(new SeriesStep(key, 300, StepSource.Inferred, 300), Assert.Single(report.Steps));
        Assert.Equal(300, await StepOfAsync(key));
        Assert.Equal(0, report.AggregatedPoints);
        var second = await StoredDayAsync(key, new DateOnly(2026, 10, 6));
        Assert.Equal(288, second.Length);
        Assert.Equal(expected[288 + 100], second[100]);
        Assert.True(float.IsNaN(second[300 - 288]));
        Assert.Equal(expected.Count, (await StoredDayAsync(key, new DateOnly(2026, 10, 5))).Concat(second).Count(p => !float.IsNaN(p)));
    }

    [Fact]
    public async Task A_registered_series_keeps_its_step_a_finer_file_is_aggregated_onto_it_and_a_different_given_step_is_refused()
    {
        string key = Key("registered");
        await Ingest(Write("hourly.csv", ["series_key,timestamp,value", $"{key},2026-10-07T00:00:00Z,1", $"{key},2026-10-07T01:00:00Z,1"]),
            new CsvIngestOptions());
        var fiveMinutes = new List<string> { "series_key,timestamp,value" };
        for (int slot = 0; slot < 24; slot++)
        {
            fiveMinutes.Add(string.Create(CultureInfo.InvariantCulture, $"{key},{new DateTime(2026, 10, 7, 2, 0, 0, DateTimeKind.Utc).AddMinutes(5 * slot):yyyy-MM-ddTHH:mm:ssZ},{slot}"));
        }
        string path = Write("five-minutes.csv", fiveMinutes);

        var report = await Ingest(path, new CsvIngestOptions());
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Ingest(path, new CsvIngestOptions { StepSeconds = 300 }));

        var step = Assert.Single(report.Steps);
        Assert.Equal(new SeriesStep(key, 3600, StepSource.Registered, 300), step);
        Assert.True(step.OntoRegisteredStep);
        Assert.Equal(2, report.AggregatedPoints);
        var day = await StoredDayAsync(key, new DateOnly(2026, 10, 7));
        Assert.Equal(24, day.Length);
        Assert.Equal((1f, 1f, 5.5f, 17.5f), (day[0], day[1], day[2], day[3]));
        Assert.Contains($"series '{key}' (3600 s)", error.Message);
        Assert.Contains("five-minutes.csv: the step given (300 s)", error.Message);
    }

    [Fact]
    public async Task A_day_delivered_in_two_files_keeps_all_its_points()
    {
        string key = Key("halves");
        var day = new DateOnly(2026, 10, 8);

        await Ingest(Write("morning.csv", HourLines(key, day, 0, 12, h => h)), new CsvIngestOptions());
        var report = await Ingest(Write("afternoon.csv", HourLines(key, day, 12, 24, h => h)), new CsvIngestOptions());

        Assert.Equal(1, report.DayRows);
        Assert.Equal(Enumerable.Range(0, 24).Select(h => (float)h).ToArray(), await StoredDayAsync(key, day));
    }

    [Fact]
    public async Task A_correction_of_one_point_keeps_the_other_23()
    {
        string key = Key("correction");
        var day = new DateOnly(2026, 10, 9);
        await Ingest(Write("day.csv", HourLines(key, day, 0, 24, h => h)), new CsvIngestOptions());

        await Ingest(Write("fix.csv", HourLines(key, day, 7, 8, _ => 70)), new CsvIngestOptions());

        var expected = Enumerable.Range(0, 24).Select(h => h == 7 ? 70f : h).ToArray();
        Assert.Equal(expected, await StoredDayAsync(key, day));
    }

    [Fact]
    public async Task A_blank_in_a_later_file_does_not_erase_a_stored_point()
    {
        string key = Key("blank");
        var day = new DateOnly(2026, 10, 10);
        await Ingest(Write("day.csv", HourLines(key, day, 0, 24, h => h)), new CsvIngestOptions());

        await Ingest(Write("blank.csv", ["series_key,timestamp,value", $"{key},2026-10-10T05:00:00Z,", $"{key},2026-10-10T06:00:00Z,60"]),
            new CsvIngestOptions());

        var stored = await StoredDayAsync(key, day);
        Assert.Equal(5f, stored[5]);
        Assert.Equal(60f, stored[6]);
    }

    [Fact]
    public async Task Replace_days_replaces_the_days_the_file_touches_whole()
    {
        string key = Key("replace");
        var day = new DateOnly(2026, 10, 11);
        await Ingest(Write("two-days.csv", [.. HourLines(key, day, 0, 24, h => h), .. HourLines(key, day.AddDays(1), 0, 24, h => h).Skip(1)]),
            new CsvIngestOptions());

        await Ingest(Write("replace.csv", HourLines(key, day, 7, 8, _ => 70)), new CsvIngestOptions { ReplaceDays = true });

        var stored = await StoredDayAsync(key, day);
        Assert.Equal(70f, stored[7]);
        Assert.Equal(23, stored.Count(float.IsNaN));
        Assert.Equal(Enumerable.Range(0, 24).Select(h => (float)h).ToArray(), await StoredDayAsync(key, day.AddDays(1)));
    }

    [Fact]
    public async Task A_bad_line_after_good_ones_leaves_a_stored_day_as_it_was()
    {
        string key = Key("untouched");
        var day = new DateOnly(2026, 10, 12);
        await Ingest(Write("day.csv", HourLines(key, day, 0, 24, h => h)), new CsvIngestOptions());

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Ingest(
            Write("late.csv", ["series_key,timestamp,value", $"{key},2026-10-12T03:00:00Z,30", $"{key},1850-10-12T04:00:00Z,40"]),
            new CsvIngestOptions()));

        Assert.StartsWith("late.csv line 3, field 'timestamp'", error.Message);
        Assert.Equal(3f, (await StoredDayAsync(key, day))[3]);
    }

    [Fact]
    public async Task A_file_larger_than_a_chunk_is_written_group_by_group_with_the_same_days_as_in_memory()
    {
        // Time order across series (every series' hour, then the next hour), a slot repeated far apart in the file, a
        // series with a single reading (its step comes from the whole file) and a blank: what a chunk boundary could
        // break if chunks were written as they were read.
        var day = new DateOnly(2026, 9, 3);
        string[] keys = [.. Enumerable.Range(0, 6).Select(i => Key($"chunked{i}"))];
        var lines = new List<string> { "series_key,timestamp,value" };
        for (int hour = 0; hour < 24; hour++)
        {
            var time = day.ToDateTime(new TimeOnly(hour, 0), DateTimeKind.Utc);
            foreach (string key in keys)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"{key},{time:yyyy-MM-ddTHH:mm:ssZ},{(hour == 7 && key == keys[1] ? "" : (hour + 0.5f).ToString(CultureInfo.InvariantCulture))}"));
            }
        }
        lines.Add($"{keys[0]},2026-09-03T05:00:00Z,100.5");
        string lone = Key("lone");
        lines.Add($"{lone},2026-09-03T11:00:00Z,42");
        string inMemory = Write("in-memory.csv", lines);
        string chunked = Write("chunked.csv", lines.Select(l => l.Replace("chunked", "staged", StringComparison.Ordinal).Replace("lone-", "lone2-", StringComparison.Ordinal)));

        var whole = await Ingest(inMemory, new CsvIngestOptions());
        var staged = await Ingest(chunked, new CsvIngestOptions { ChunkReadings = 10 });

        Assert.Equal((whole.Rows, whole.Series, whole.DayRows, whole.AggregatedPoints), (staged.Rows, staged.Series, staged.DayRows, staged.AggregatedPoints));
        Assert.Equal((146, 7, 7L, 1), (staged.Rows, staged.Series, staged.DayRows, staged.AggregatedPoints));
        foreach (string key in keys.Append(lone))
        {
            string stagedKey = key.Replace("chunked", "staged", StringComparison.Ordinal).Replace("lone-", "lone2-", StringComparison.Ordinal);
            Assert.Equal(await StoredDayAsync(key, day), await StoredDayAsync(stagedKey, day));
            Assert.Equal(3600, await StepOfAsync(stagedKey));
        }
        var first = await StoredDayAsync(keys[0].Replace("chunked", "staged", StringComparison.Ordinal), day);
        Assert.Equal((5.5f + 100.5f) / 2, first[5]);
        Assert.True(float.IsNaN((await StoredDayAsync(keys[1].Replace("chunked", "staged", StringComparison.Ordinal), day))[7]));
    }

    [Fact]
    public async Task A_bad_line_at_the_end_of_a_file_larger_than_a_chunk_writes_nothing()
    {
        string key = Key("staged-bad");
        var day = new DateOnly(2026, 9, 4);
        var lines = HourLines(key, day, 0, 24, h => h);
        lines.Add($"{key},2026-09-05T00:00:00Z,oops");

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Ingest(Write("staged-bad.csv", lines), new CsvIngestOptions { ChunkReadings = 5 }));

        Assert.StartsWith("staged-bad.csv line 26, field 'value'", error.Message);
        Assert.Null(await StepOfAsync(key));
    }

    [Fact]
    public async Task A_rejected_group_after_written_ones_rolls_the_whole_file_back()
    {
        // The first series (in key order) is new and written in the first group; the second is registered with a
        // 30-minute step and the file gives another: refused in the second group, after the first was written.
        string first = "a-" + Key("rollback");
        string second = "b-" + Key("rollback");
        var day = new DateOnly(2026, 9, 5);
        await Ingest(Write("registered.csv", HourLines(second, day, 0, 1, _ => 1)), new CsvIngestOptions { StepSeconds = 1800 });
        var lines = HourLines(first, day, 0, 24, h => h);
        lines.AddRange(HourLines(second, day, 0, 24, h => h).Skip(1));

        await Assert.ThrowsAsync<InvalidOperationException>(() => Ingest(Write("rollback.csv", lines), new CsvIngestOptions { StepSeconds = 3600, ChunkReadings = 10 }));

        Assert.Null(await StepOfAsync(first));
    }

    private Task<IngestReport> Ingest(string path, CsvIngestOptions options) =>
        new CsvIngest(new SeriesRepository(database.DataSource)).IngestAsync(path, options, CancellationToken.None);

    private static string Key(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>A header and one line per hour in [fromHour, toHour) of a day.</summary>
    private static List<string> HourLines(string key, DateOnly day, int fromHour, int toHour, Func<int, float> value)
    {
        var lines = new List<string> { "series_key,timestamp,value" };
        for (int hour = fromHour; hour < toHour; hour++)
        {
            var time = day.ToDateTime(new TimeOnly(hour, 0), DateTimeKind.Utc);
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{key},{time:yyyy-MM-ddTHH:mm:ssZ},{value(hour)}"));
        }
        return lines;
    }

    private async Task<float[]> StoredDayAsync(string key, DateOnly day)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(
            "select observation_points(o.points) from observation_day o join series s on s.series_id = o.series_id where s.series_key = @key and o.day = @day", connection);
        command.Parameters.AddWithValue("key", key);
        command.Parameters.AddWithValue("day", day);
        return await command.ExecuteScalarAsync() as float[] ?? throw new InvalidOperationException($"No day {day} stored for '{key}'.");
    }

    private async Task<int?> StepOfAsync(string key)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("select step_seconds from series where series_key = @key", connection);
        command.Parameters.AddWithValue("key", key);
        return await command.ExecuteScalarAsync() as int?;
    }

    private string Write(string name, IEnumerable<string> lines)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllLines(path, lines);
        return path;
    }
}
