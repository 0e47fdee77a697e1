using AnomalyMeta.Storage.Copy;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Storage.Tests.Infrastructure;
using AnomalyMeta.Testing;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage.Tests;

[Collection(PostgresTests.Name)]
public sealed class SeriesRepositoryTests(PostgresFixture postgres)
{
    private readonly SeriesRepository _repository = new(postgres.DataSource);

    [Fact]
    public async Task Registering_again_keeps_ids_refreshes_tags_and_adds_new_keys()
    {
        var series = TestData.Series("register", 3);
        var first = await _repository.RegisterAsync(series, CancellationToken.None);

        var again = series
            .Select((s, i) => i == 0 ? s with { Tags = new Dictionary<string, string> { ["team"] = "payments" } } : s)
            .Append(new SeriesRegistration(series[0].SeriesKey + "-new", 900))
            .ToList();
        var second = await _repository.RegisterAsync(again, CancellationToken.None);

        Assert.Equal(3, first.Count);
        Assert.Equal(4, second.Count);
        foreach (var (key, id) in first)
        {
            Assert.Equal(id, second[key]);
        }

        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        var tags = await connection.ExecuteScalarAsync<string>(
            "select tags->>'team' from series where series_id = @id", new { id = second[series[0].SeriesKey] });
        Assert.Equal("payments", tags);
        var step = await connection.ExecuteScalarAsync<int>(
            "select step_seconds from series where series_id = @id", new { id = second[series[0].SeriesKey + "-new"] });
        Assert.Equal(900, step);
    }

    [Fact]
    public async Task Only_an_update_that_changes_tags_moves_the_tags_version_the_dashboard_summaries_follow()
    {
        var series = TestData.Series("tagsversion", 3);
        var ids = (await _repository.RegisterAsync(series, CancellationToken.None)).Values.ToArray();
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        Task<long> Version() => connection.ExecuteScalarAsync<long>("select last_value from series_tags_version");
        long before = await Version();

        // What a clustering does to every series (0017's trigger joined old and new rows of such updates quadratically),
        // and an update that names the tags but leaves them as they were.
        await connection.ExecuteAsync("update series set primary_period = 24, period_status = 'periodic' where series_id = any(@ids)", new { ids });
        await connection.ExecuteAsync("update series set tags = tags where series_id = any(@ids)", new { ids });
        long untouched = await Version();
        await _repository.RegisterAsync([series[0] with { Tags = new Dictionary<string, string> { ["team"] = "search" } }], CancellationToken.None);
        long changed = await Version();
        await connection.ExecuteAsync("update series set tags = tags || '{\"region\": \"eu\"}' where series_id = any(@ids)", new { ids });

        Assert.Equal(before, untouched);
        Assert.NotEqual(untouched, changed);
        Assert.NotEqual(changed, await Version());
    }

    [Fact]
    public async Task Changing_the_step_of_a_registered_series_is_refused()
    {
        var series = TestData.Series("step", 1);
        await _repository.RegisterAsync(series, CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => _repository.RegisterAsync([series[0] with { StepSeconds = 900 }], CancellationToken.None));

        Assert.Contains(series[0].SeriesKey, error.Message, StringComparison.Ordinal);
        Assert.Contains("900", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Observations_round_trip_through_batched_history_reads_with_NaN_for_missing_days()
    {
        var asOf = new DateOnly(2026, 3, 10);
        var hourly = TestData.Series("roundtrip-h", 4);
        var quarterHourly = TestData.Series("roundtrip-q", 1, stepSeconds: 900);
        var ids = await _repository.RegisterAsync([.. hourly, .. quarterHourly], CancellationToken.None);
        var seriesIds = ids.Values.Order().ToArray();
        var quarterId = ids[quarterHourly[0].SeriesKey];

        // Window of 3 days: Mar 8, 9, 10. Mar 7 and Mar 11 are outside it and must not leak in.
        var rows = new List<DayRow>();
        foreach (var id in seriesIds)
        {
            var perDay = id == quarterId ? 96 : 24;
            for (var day = asOf.AddDays(-3); day <= asOf.AddDays(1); day = day.AddDays(1))
            {
                // The second series misses Mar 9; the third has no day at all.
                if ((id == seriesIds[1] && day == asOf.AddDays(-1)) || id == seriesIds[2])
                {
                    continue;
                }

                var points = TestData.Day(id, day, perDay);
                if (id == seriesIds[0] && day == asOf)
                {
                    points[5] = float.NaN;
                }

                rows.Add(new DayRow(id, day, points));
            }
        }

        var written = await _repository.WriteObservationsAsync(rows, CancellationToken.None);
        Assert.Equal(rows.Count, written);

        var windows = new Dictionary<int, (SeriesHistory Series, float[] Points)>();
        var previousLast = seriesIds[0] - 1;
        // Start just before this test's series: the collection's other tests share the database.
        await foreach (var batch in _repository.ReadHistoryAsync(asOf, daysBack: 3, batchSize: 2, afterSeriesId: seriesIds[0] - 1, CancellationToken.None))
        {
            Assert.InRange(batch.Count, 1, 2);
            Assert.Equal(asOf.AddDays(-2), batch.FirstDay);
            Assert.True(batch.Series[0].SeriesId > previousLast, "batches come in ascending series_id without overlap");
            previousLast = batch.Series[batch.Count - 1].SeriesId;
            for (var i = 0; i < batch.Count; i++)
            {
                if (seriesIds.Contains(batch.Series[i].SeriesId))
                {
                    windows[batch.Series[i].SeriesId] = (batch.Series[i], batch.PointsOf(i).ToArray());
                }
            }
        }

        Assert.Equal(seriesIds.Length, windows.Count);
        foreach (var id in seriesIds)
        {
            var (series, points) = windows[id];
            var perDay = id == quarterId ? 96 : 24;
            Assert.Equal(id == quarterId ? 900 : 3600, series.StepSeconds);
            Assert.Equal(3 * perDay, points.Length);
            for (var d = 0; d < 3; d++)
            {
                var day = asOf.AddDays(d - 2);
                var stored = rows.Where(r => r.SeriesId == id && r.Day == day).Select(r => r.Points).SingleOrDefault();
                var window = points.AsSpan(d * perDay, perDay);
                if (stored is null)
                {
                    Assert.True(window.ToArray().All(float.IsNaN), $"series {id} day {day}: a missing day reads as NaN");
                }
                else
                {
                    // NaN == NaN for float.Equals, so a missing point inside a stored day round-trips as NaN.
                    Assert.Equal(stored, window.ToArray());
                }
            }
        }

        Assert.True(float.IsNaN(windows[seriesIds[0]].Points[(2 * 24) + 5]));
        Assert.Equal((3, true), (windows[seriesIds[0]].Series.DaysObserved, windows[seriesIds[0]].Series.HasAsOfDay));
        Assert.Equal((2, true), (windows[seriesIds[1]].Series.DaysObserved, windows[seriesIds[1]].Series.HasAsOfDay));
        Assert.Equal((0, false), (windows[seriesIds[2]].Series.DaysObserved, windows[seriesIds[2]].Series.HasAsOfDay));
    }

    [Fact]
    public async Task A_point_made_NaN_by_hand_reads_as_NaN_and_a_stored_day_of_the_wrong_length_fails_by_name()
    {
        // Neither can come through WriteObservationsAsync; both can come from a hand-written UPDATE.
        var ids = (await _repository.RegisterAsync(TestData.Series("corrupt", 1), CancellationToken.None)).Values.ToArray();
        var id = ids[0];
        var asOf = new DateOnly(2026, 3, 15);
        var points = TestData.Day(id, asOf, 24);
        await _repository.WriteObservationsAsync([new DayRow(id, asOf, points)], CancellationToken.None);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        var day = asOf.ToDateTime(TimeOnly.MinValue);
        try
        {
            // The third point's 4 bytes (db/0021 stores 4 big-endian bytes per point).
            await connection.ExecuteAsync(
                @"update observation_day set points = overlay(points placing '\x7fc00000'::bytea from 9 for 4) where series_id = @id and day = @day", new { id, day });
            var window = await ReadWindowAsync(id, asOf);
            Assert.True(float.IsNaN(window[2]));
            Assert.Equal(points[3..], window[3..]);

            await connection.ExecuteAsync("update observation_day set points = substr(points, 1, 92) where series_id = @id and day = @day", new { id, day });
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadWindowAsync(id, asOf));
            Assert.Contains($"Series {id} day 2026-03-15: 23 points stored, 24 expected", error.Message, StringComparison.Ordinal);

            var broken = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(
                @"update observation_day set points = points || '\x00'::bytea where series_id = @id and day = @day", new { id, day }));
            Assert.Equal(PostgresErrorCodes.CheckViolation, broken.SqlState);
        }
        finally
        {
            // The collection shares the database: leave no corrupt day for the other tests' reads.
            await connection.ExecuteAsync("delete from series where series_id = @id", new { id });
        }
    }

    [Fact]
    public async Task The_SQL_functions_for_stored_points_agree_with_the_writer_bit_for_bit()
    {
        // What psql and Grafana use to read observation_day.points, and what migrated the real[] days (db/0021).
        float[] values = [1.5f, float.NaN, float.NegativeInfinity, float.PositiveInfinity, float.Epsilon, float.MaxValue, -0f, -123.456f, 1e-40f];
        var written = new byte[PointBytes.Length(values.Length)];
        PointBytes.Write(values, written);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();

        var fromSql = await connection.ExecuteScalarAsync<byte[]>("select observation_points_bytes(@values)", new { values });
        var read = await connection.ExecuteScalarAsync<float[]>("select observation_points(@written)", new { written });
        var nullPoint = await connection.ExecuteScalarAsync<float[]>("select observation_points(observation_points_bytes(array[2, null]::real[]))");

        Assert.Equal(written, fromSql);
        Assert.Equal(values.Select(v => float.IsNaN(v) ? PointBytes.NaNBits : BitConverter.SingleToInt32Bits(v)), read!.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(2f, nullPoint![0]);
        Assert.True(float.IsNaN(nullPoint[1]));
    }

    [Fact]
    public async Task Rewriting_a_day_in_replace_mode_replaces_its_points_NaN_included()
    {
        var ids = await _repository.RegisterAsync(TestData.Series("rewrite", 1), CancellationToken.None);
        var id = ids.Values.Single();
        var day = new DateOnly(2026, 3, 20);
        await _repository.WriteObservationsAsync([new DayRow(id, day, TestData.Day(id, day, 24, seed: 1))], CancellationToken.None);

        var replacement = TestData.Day(id, day, 24, seed: 2);
        replacement[4] = float.NaN;
        await _repository.WriteObservationsAsync([new DayRow(id, day, replacement)], DayWriteMode.Replace, CancellationToken.None);

        Assert.Equal(replacement, await StoredDayAsync(id, day));
    }

    [Fact]
    public async Task Writing_a_day_again_merges_a_NaN_point_keeps_the_stored_value_and_a_full_day_replaces()
    {
        var id = (await _repository.RegisterAsync(TestData.Series("merge", 1), CancellationToken.None)).Values.Single();
        var day = new DateOnly(2026, 3, 21);
        var original = TestData.Day(id, day, 24, seed: 1);
        original[9] = float.NaN;
        await _repository.WriteObservationsAsync([new DayRow(id, day, original)], CancellationToken.None);

        var correction = Enumerable.Repeat(float.NaN, 24).ToArray();
        correction[3] = 42f;
        correction[9] = 9f;
        var written = await _repository.WriteObservationsAsync([new DayRow(id, day, correction)], CancellationToken.None);

        var expected = (float[])original.Clone();
        expected[3] = 42f;
        expected[9] = 9f;
        Assert.Equal(1, written);
        Assert.Equal(expected, await StoredDayAsync(id, day));

        var full = TestData.Day(id, day, 24, seed: 3);
        await _repository.WriteObservationsAsync([new DayRow(id, day, full)], CancellationToken.None);
        Assert.Equal(full, await StoredDayAsync(id, day));
    }

    [Fact]
    public async Task Registering_and_writing_merges_by_default_and_replaces_when_asked()
    {
        var series = TestData.Series("register-merge", 1);
        var key = series[0].SeriesKey;
        var day = new DateOnly(2026, 3, 22);
        static float[] Half(int from)
        {
            var points = Enumerable.Repeat(float.NaN, 24).ToArray();
            for (var h = from; h < from + 12; h++)
            {
                points[h] = h;
            }

            return points;
        }

        await _repository.RegisterAndWriteAsync(series, ids => [new DayRow(ids[key], day, Half(0))], CancellationToken.None);
        var (ids, _) = await _repository.RegisterAndWriteAsync(series, ids => [new DayRow(ids[key], day, Half(12))], CancellationToken.None);
        Assert.Equal(Enumerable.Range(0, 24).Select(h => (float)h).ToArray(), await StoredDayAsync(ids[key], day));

        await _repository.RegisterAndWriteAsync(series, ids => [new DayRow(ids[key], day, Half(12))], DayWriteMode.Replace, CancellationToken.None);
        Assert.Equal(Half(12), await StoredDayAsync(ids[key], day));
    }

    [Fact]
    public async Task Registered_steps_are_found_by_key_and_unknown_keys_are_absent()
    {
        var hourly = TestData.Series("steps-h", 1);
        var fiveMinutes = TestData.Series("steps-5", 1, stepSeconds: 300);
        await _repository.RegisterAsync([.. hourly, .. fiveMinutes], CancellationToken.None);

        var steps = await _repository.FindStepsAsync([hourly[0].SeriesKey, fiveMinutes[0].SeriesKey, "steps-nobody"], CancellationToken.None);

        Assert.Equal(2, steps.Count);
        Assert.Equal(3600, steps[hourly[0].SeriesKey]);
        Assert.Equal(300, steps[fiveMinutes[0].SeriesKey]);
    }

    [Fact]
    public async Task A_write_with_a_wrong_length_day_names_it_and_leaves_nothing()
    {
        var ids = await _repository.RegisterAsync(TestData.Series("badlength", 2), CancellationToken.None);
        var (good, bad) = (ids.Values.Min(), ids.Values.Max());
        var day = new DateOnly(2026, 4, 1);
        DayRow[] rows =
        [
            new(good, day, TestData.Day(good, day, 24)),
            new(bad, day.AddDays(-1), TestData.Day(bad, day.AddDays(-1), 24)),
            new(bad, day, TestData.Day(bad, day, 23)),
        ];

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _repository.WriteObservationsAsync(rows, CancellationToken.None));

        Assert.Contains($"series {bad} day 2026-04-01: 24 points expected (step 3600 s), found 23", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountDaysAsync(good, bad));
    }

    [Fact]
    public async Task Registering_with_a_rejected_day_registers_nothing()
    {
        var series = TestData.Series("register-and-write", 2);
        var day = new DateOnly(2026, 4, 3);
        IEnumerable<DayRow> Rows(IReadOnlyDictionary<string, int> ids) =>
        [
            new(ids[series[0].SeriesKey], day, TestData.Day(ids[series[0].SeriesKey], day, 24)),
            new(ids[series[1].SeriesKey], day, TestData.Day(ids[series[1].SeriesKey], day, 23)),
        ];

        var error = await Assert.ThrowsAsync<ArgumentException>(
            () => _repository.RegisterAndWriteAsync(series, Rows, CancellationToken.None));

        Assert.Contains("24 points expected (step 3600 s), found 23", error.Message, StringComparison.Ordinal);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(
            "select count(*) from series where series_key = any(@keys)", new { keys = series.Select(s => s.SeriesKey).ToArray() }));

        var (registered, written) = await _repository.RegisterAndWriteAsync(
            series, ids => [new DayRow(ids[series[0].SeriesKey], day, TestData.Day(ids[series[0].SeriesKey], day, 24))], CancellationToken.None);

        Assert.Equal(2, registered.Count);
        Assert.Equal(1, written);
        Assert.Equal(1, await CountDaysAsync([.. registered.Values]));
    }

    [Fact]
    public async Task A_write_for_an_unknown_series_names_it_and_leaves_nothing()
    {
        var ids = await _repository.RegisterAsync(TestData.Series("unknown", 1), CancellationToken.None);
        var good = ids.Values.Single();
        var day = new DateOnly(2026, 4, 2);
        const int Unknown = int.MaxValue - 7;
        DayRow[] rows = [new(good, day, TestData.Day(good, day, 24)), new(Unknown, day, TestData.Day(Unknown, day, 24))];

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _repository.WriteObservationsAsync(rows, CancellationToken.None));

        Assert.Contains($"series {Unknown} day 2026-04-02: no such series is registered", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountDaysAsync(good));
    }

    [Fact]
    public async Task A_bulk_copy_of_new_days_checks_its_series_lengths_and_stored_days_and_leaves_nothing_when_one_fails()
    {
        var ids = await _repository.RegisterAsync(TestData.Series("bulk", 1), CancellationToken.None);
        var id = ids.Values.Single();
        var day = new DateOnly(2026, 4, 9);
        const int Unknown = int.MaxValue - 9;

        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => _repository.WriteObservationsAsync(
            [new(id, day, TestData.Day(id, day, 24)), new(Unknown, day, TestData.Day(Unknown, day, 24))], DayWriteMode.New, CancellationToken.None));
        var shortDay = await Assert.ThrowsAsync<ArgumentException>(() => _repository.WriteObservationsAsync(
            [new(id, day, TestData.Day(id, day, 24)), new(id, day.AddDays(1), TestData.Day(id, day, 23))], DayWriteMode.New, CancellationToken.None));
        Assert.Equal(0, await CountDaysAsync(id));
        Assert.Equal(2, await _repository.WriteObservationsAsync(
            [new(id, day, TestData.Day(id, day, 24)), new(id, day.AddDays(1), TestData.Day(id, day.AddDays(1), 24))], DayWriteMode.New, CancellationToken.None));
        var stored = await Assert.ThrowsAsync<ArgumentException>(() => _repository.WriteObservationsAsync(
            [new(id, day.AddDays(1), TestData.Day(id, day, 24))], DayWriteMode.New, CancellationToken.None));

        Assert.Contains($"no series with id {Unknown}", unknown.Message, StringComparison.Ordinal);
        Assert.Contains($"series {id} day 2026-04-10 has 23 points", shortDay.Message, StringComparison.Ordinal);
        Assert.Contains("already exists", stored.Message, StringComparison.Ordinal);
        Assert.Equal(2, await CountDaysAsync(id));
    }

    [Fact]
    public async Task A_bulk_copy_whose_series_starts_with_a_wrong_day_names_that_day_and_leaves_nothing()
    {
        // The lengths are checked from what the COPY sent: here the series' first row is the wrong one, the rows after
        // it are right, and another series is wrong only on a later day.
        var ids = (await _repository.RegisterAsync(TestData.Series("firstwrong", 2), CancellationToken.None)).Values.Order().ToArray();
        var day = new DateOnly(2026, 4, 20);
        DayRow[] rows =
        [
            new(ids[0], day, TestData.Day(ids[0], day, 25)),
            new(ids[0], day.AddDays(1), TestData.Day(ids[0], day.AddDays(1), 24)),
            new(ids[1], day, TestData.Day(ids[1], day, 24)),
            new(ids[1], day.AddDays(1), TestData.Day(ids[1], day.AddDays(1), 12)),
        ];

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _repository.WriteObservationsAsync(rows, DayWriteMode.New, CancellationToken.None));

        Assert.Contains($"series {ids[0]} day 2026-04-20 has 25 points, its step of 3600 s makes 24", error.Message, StringComparison.Ordinal);
        Assert.Contains($"series {ids[1]} day 2026-04-21 has 12 points", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("2026-04-21 has 24", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountDaysAsync(ids));
    }

    [Fact]
    public async Task A_write_with_a_duplicated_day_names_it_and_leaves_nothing()
    {
        var ids = await _repository.RegisterAsync(TestData.Series("duplicate", 1), CancellationToken.None);
        var id = ids.Values.Single();
        var day = new DateOnly(2026, 4, 3);
        DayRow[] rows =
        [
            new(id, day.AddDays(-1), TestData.Day(id, day.AddDays(-1), 24)),
            new(id, day, TestData.Day(id, day, 24, seed: 1)),
            new(id, day, TestData.Day(id, day, 24, seed: 2)),
        ];

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _repository.WriteObservationsAsync(rows, CancellationToken.None));

        Assert.Contains($"series {id} day 2026-04-03 appears 2 times", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountDaysAsync(id));
    }

    [Fact]
    public async Task History_of_twenty_thousand_series_over_eight_days_reads_in_batches()
    {
        const int SeriesCount = 20_000;
        const int Days = 8;
        var asOf = new DateOnly(2026, 5, 8);
        var ids = await _repository.RegisterAsync(TestData.Series("bulk", SeriesCount), CancellationToken.None);
        var ours = ids.Values.ToHashSet();

        IEnumerable<DayRow> Rows()
        {
            foreach (var id in ours)
            {
                for (var d = 0; d < Days; d++)
                {
                    var day = asOf.AddDays(d - Days + 1);
                    yield return new DayRow(id, day, TestData.Day(id, day, 24));
                }
            }
        }

        Assert.Equal(SeriesCount * Days, await _repository.WriteObservationsAsync(Rows(), CancellationToken.None));

        var seen = 0;
        var batches = 0;
        var probe = ids.Values.Max();
        float[]? probeWindow = null;
        await foreach (var batch in _repository.ReadHistoryAsync(asOf, Days, batchSize: 1000, CancellationToken.None))
        {
            batches++;
            Assert.Equal(batch.Count * Days * 24, batch.Points.Length);
            for (var i = 0; i < batch.Count; i++)
            {
                var series = batch.Series[i];
                if (!ours.Contains(series.SeriesId))
                {
                    continue;
                }

                seen++;
                Assert.Equal(Days, series.DaysObserved);
                if (series.SeriesId == probe)
                {
                    probeWindow = batch.PointsOf(i).ToArray();
                }
            }
        }

        Assert.Equal(SeriesCount, seen);
        Assert.True(batches >= SeriesCount / 1000);
        Assert.NotNull(probeWindow);
        Assert.Equal(TestData.Day(probe, asOf.AddDays(-Days + 1), 24), probeWindow[..24]);
        Assert.Equal(TestData.Day(probe, asOf, 24), probeWindow[^24..]);
    }

    [Fact]
    public async Task Assignments_set_the_series_cluster_and_count_moved_series()
    {
        var clusterings = new ClusteringStore(postgres.DataSource);
        var ids = (await _repository.RegisterAsync(TestData.Series("assign", 3), CancellationToken.None)).Values.Order().ToArray();
        ClusterSummary[] clusters = [new(0, 24, 168, 2, [1f, 2f]), new(1, null, null, 1, [3f, 4f])];

        var v1 = await clusterings.NextVersionAsync(CancellationToken.None);
        await clusterings.SaveAsync(new StoredClustering(v1, "kmeans", """{"k":2}""", 3, null, clusters), CancellationToken.None);
        var written = await _repository.UpdateAssignmentsAsync(
            v1,
            [
                new(ids[0], 0, 24, 168, "periodic", [1f, 2f]),
                new(ids[1], 0, 24, null, "periodic", [1f, 2f]),
                new(ids[2], 1, null, null, "aperiodic", [3f, 4f]),
            ],
            CancellationToken.None);
        var v2 = await clusterings.NextVersionAsync(CancellationToken.None);
        await clusterings.SaveAsync(new StoredClustering(v2, "kmeans", """{"k":2}""", 3, null, clusters), CancellationToken.None);
        await _repository.UpdateAssignmentsAsync(
            v2,
            [
                new(ids[0], 0, 24, 168, "periodic", [1f, 2f]),
                new(ids[1], 1, null, null, "aperiodic", [3f, 4f]),
                new(ids[2], 1, null, null, "aperiodic", [3f, 4f]),
            ],
            CancellationToken.None);
        var moved = await clusterings.UpdateMovedCountAsync(v2, CancellationToken.None);

        Assert.Equal(v1 + 1, v2);
        Assert.Equal(3, written);
        Assert.Equal(1, moved);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        var current = (await connection.QueryAsync<(int, int, int?)>(
            "select cluster_version, cluster_id, primary_period from series where series_id = any(@ids) order by series_id",
            new { ids })).ToList();
        Assert.Equal([(v2, 0, 24), (v2, 1, null), (v2, 1, null)], current);
        var latest = await clusterings.LoadLatestAsync(CancellationToken.None);
        Assert.NotNull(latest);
        Assert.Equal((v2, 1, "kmeans"), (latest.Version, latest.MovedCount, latest.Method));
        Assert.Equal([3f, 4f], latest.Clusters[1].Centroid);
        Assert.Equal(168, latest.Clusters[0].SecondaryPeriod);
    }

    [Fact]
    public async Task An_assignment_to_a_cluster_that_does_not_exist_is_refused()
    {
        var ids = (await _repository.RegisterAsync(TestData.Series("assign-bad", 1), CancellationToken.None)).Values.ToArray();
        var clusterings = new ClusteringStore(postgres.DataSource);
        var version = await clusterings.NextVersionAsync(CancellationToken.None);
        await clusterings.SaveAsync(new StoredClustering(version, "kmeans", "{}", 1, null, [new(0, 24, null, 1, [0f])]), CancellationToken.None);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _repository.UpdateAssignmentsAsync(
            version, [new(ids[0], 5, 24, null, "periodic", [0f])], CancellationToken.None));

        Assert.Contains($"series {ids[0]}: cluster 5 is not in clustering version {version}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deleting_a_series_or_a_cluster_deletes_their_assignments_and_nothing_else()
    {
        // db/0019 replaced series_assignment's foreign keys (per-row lookups that made saving 2 M assignments slow)
        // with triggers that keep their cascades.
        var ids = (await _repository.RegisterAsync(TestData.Series("assign-cascade", 3), CancellationToken.None)).Values.Order().ToArray();
        var clusterings = new ClusteringStore(postgres.DataSource);
        var version = await clusterings.NextVersionAsync(CancellationToken.None);
        await clusterings.SaveWithAssignmentsAsync(
            new StoredClustering(version, "kmeans", "{}", 3, null, [new(0, 24, null, 2, [0f]), new(1, null, null, 1, [1f])]),
            [new(ids[0], 0, 24, null, "periodic", [0f]), new(ids[1], 0, 24, null, "periodic", [0f]), new(ids[2], 1, null, null, "aperiodic", [1f])],
            CancellationToken.None);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        async Task<int[]> AssignedAsync() => (await connection.QueryAsync<int>(
            "select series_id from series_assignment where cluster_version = @version order by series_id", new { version })).ToArray();

        await connection.ExecuteAsync("delete from series where series_id = @id", new { id = ids[0] });
        Assert.Equal([ids[1], ids[2]], await AssignedAsync());

        await connection.ExecuteAsync("delete from cluster where cluster_version = @version and cluster_id = 1", new { version });
        Assert.Equal([ids[1]], await AssignedAsync());
    }

    [Fact]
    public async Task A_clustering_saved_with_a_bad_assignment_is_not_saved_at_all()
    {
        var ids = (await _repository.RegisterAsync(TestData.Series("save-with", 2), CancellationToken.None)).Values.Order().ToArray();
        var clusterings = new ClusteringStore(postgres.DataSource);
        var version = await clusterings.NextVersionAsync(CancellationToken.None);
        var clustering = new StoredClustering(version, "kmeans", "{}", 2, null, [new(0, 24, null, 2, [0f])]);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => clusterings.SaveWithAssignmentsAsync(
            clustering, [new(ids[0], 0, 24, null, "periodic", [0f]), new(ids[1], 3, 24, null, "periodic", [0f])], CancellationToken.None));

        Assert.Contains($"series {ids[1]}: cluster 3 is not in clustering version {version}", error.Message, StringComparison.Ordinal);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(
            "select count(*) from clustering where cluster_version = @version", new { version }));

        var written = await clusterings.SaveWithAssignmentsAsync(
            clustering, [new(ids[0], 0, 24, null, "periodic", [0f]), new(ids[1], 0, 24, null, "periodic", [0f])], CancellationToken.None);

        Assert.Equal(2, written);
        Assert.Equal(2, await connection.ExecuteScalarAsync<int>(
            "select count(*) from series where series_id = any(@ids) and cluster_version = @version", new { ids, version }));
    }

    [Fact]
    public async Task A_read_with_cluster_windows_leaves_the_days_a_listed_cluster_does_not_need_unread_and_reads_all_days_of_the_others()
    {
        var clusterings = new ClusteringStore(postgres.DataSource);
        var ids = (await _repository.RegisterAsync(TestData.Series("windows", 4), CancellationToken.None)).Values.Order().ToArray();
        var version = await clusterings.NextVersionAsync(CancellationToken.None);
        await clusterings.SaveAsync(new StoredClustering(version, "kmeans", "{}", 3, null,
            [new(0, 24, null, 2, [0f]), new(1, 24, 168, 1, [1f])]), CancellationToken.None);
        // ids[3] stays outside the clustering.
        await _repository.UpdateAssignmentsAsync(version,
            [new(ids[0], 0, 24, null, "periodic", [0f]), new(ids[1], 0, 24, null, "periodic", [0f]), new(ids[2], 1, 24, 168, "periodic", [1f])],
            CancellationToken.None);
        var asOf = new DateOnly(2026, 4, 20);
        const int DaysBack = 6;
        var rows = ids.SelectMany(id => Enumerable.Range(0, DaysBack).Select(d => new DayRow(id, asOf.AddDays(-d), TestData.Day(id, asOf.AddDays(-d), 24)))).ToList();
        await _repository.WriteObservationsAsync(rows, CancellationToken.None);
        // Cluster 0 needs 2 days, cluster 1 more than the read's days back; a window of another clustering is ignored.
        var windows = new ClusterWindows(version, new Dictionary<int, int> { [0] = 2, [1] = 9 });

        var read = new Dictionary<int, (SeriesHistory Series, float[] Points)>();
        await foreach (var batch in _repository.ReadHistoryAsync(asOf, DaysBack, batchSize: 3, afterSeriesId: ids[0] - 1, lastSeriesId: ids[^1],
            CancellationToken.None, windows))
        {
            for (var i = 0; i < batch.Count; i++)
            {
                read[batch.Series[i].SeriesId] = (batch.Series[i], batch.PointsOf(i).ToArray());
            }
        }
        var otherVersion = new ClusterWindows(version + 1, new Dictionary<int, int> { [0] = 1 });
        float[] ofOtherVersion = [];
        await foreach (var batch in _repository.ReadHistoryOfAsync([ids[0]], asOf, DaysBack, 10, CancellationToken.None, otherVersion))
        {
            ofOtherVersion = batch.PointsOf(0).ToArray();
        }

        int[] expectedDays = [2, 2, DaysBack, DaysBack];
        for (var s = 0; s < ids.Length; s++)
        {
            var (series, points) = read[ids[s]];
            Assert.Equal(DaysBack * 24, points.Length);
            Assert.Equal(expectedDays[s], series.DaysObserved);
            for (var d = 0; d < DaysBack; d++)
            {
                var day = asOf.AddDays(d - DaysBack + 1);
                var window = points.AsSpan(d * 24, 24).ToArray();
                Assert.Equal(d >= DaysBack - expectedDays[s] ? TestData.Day(ids[s], day, 24) : Enumerable.Repeat(float.NaN, 24).ToArray(), window);
            }
        }
        Assert.Equal(read[ids[3]].Points.Length, ofOtherVersion.Length);
        Assert.DoesNotContain(ofOtherVersion, float.IsNaN);
    }

    [Fact]
    public async Task A_series_moved_to_a_clustering_without_models_yet_reads_the_window_of_its_cluster_in_the_live_one()
    {
        var clusterings = new ClusteringStore(postgres.DataSource);
        var ids = (await _repository.RegisterAsync(TestData.Series("pending", 3), CancellationToken.None)).Values.Order().ToArray();
        var live = await clusterings.NextVersionAsync(CancellationToken.None);
        await clusterings.SaveWithAssignmentsAsync(new StoredClustering(live, "kmeans", "{}", 2, null, [new(0, 24, null, 2, [0f])]),
            [new(ids[0], 0, 24, null, "periodic", [0f]), new(ids[1], 0, 24, null, "periodic", [0f])], CancellationToken.None);
        // A newer clustering (no models yet) takes all three; ids[2] is new to it and has no cluster in the live one.
        var pending = await clusterings.NextVersionAsync(CancellationToken.None);
        await clusterings.SaveWithAssignmentsAsync(new StoredClustering(pending, "kmeans", "{}", 3, null, [new(7, 24, 168, 3, [1f])]),
            [new(ids[0], 7, 24, 168, "periodic", [1f]), new(ids[1], 7, 24, 168, "periodic", [1f]), new(ids[2], 7, 24, 168, "periodic", [1f])],
            CancellationToken.None);
        var asOf = new DateOnly(2026, 4, 20);
        const int DaysBack = 6;
        var rows = ids.SelectMany(id => Enumerable.Range(0, DaysBack).Select(d => new DayRow(id, asOf.AddDays(-d), TestData.Day(id, asOf.AddDays(-d), 24)))).ToList();
        await _repository.WriteObservationsAsync(rows, CancellationToken.None);

        var observed = new Dictionary<int, int>();
        await foreach (var batch in _repository.ReadHistoryAsync(asOf, DaysBack, batchSize: 2, afterSeriesId: ids[0] - 1, lastSeriesId: ids[^1],
            CancellationToken.None, new ClusterWindows(live, new Dictionary<int, int> { [0] = 2 })))
        {
            for (var i = 0; i < batch.Count; i++)
            {
                Assert.Equal(pending, batch.Series[i].ClusterVersion);
                observed[batch.Series[i].SeriesId] = batch.Series[i].DaysObserved;
            }
        }

        Assert.Equal(2, observed[ids[0]]);
        Assert.Equal(2, observed[ids[1]]);
        Assert.Equal(DaysBack, observed[ids[2]]);
    }

    private async Task<float[]> ReadWindowAsync(int seriesId, DateOnly asOf)
    {
        await foreach (var batch in _repository.ReadHistoryAsync(asOf, daysBack: 1, batchSize: 100, afterSeriesId: seriesId - 1, CancellationToken.None))
        {
            for (var i = 0; i < batch.Count; i++)
            {
                if (batch.Series[i].SeriesId == seriesId)
                {
                    return batch.PointsOf(i).ToArray();
                }
            }
        }

        throw new InvalidOperationException($"Series {seriesId} was not read.");
    }

    private async Task<float[]> StoredDayAsync(int seriesId, DateOnly day)
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        return await connection.QuerySingleAsync<float[]>(
            "select observation_points(points) from observation_day where series_id = @seriesId and day = @day", new { seriesId, day = day.ToDateTime(TimeOnly.MinValue) });
    }

    private async Task<int> CountDaysAsync(params int[] seriesIds)
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>("select count(*) from observation_day where series_id = any(@seriesIds)", new { seriesIds });
    }

    [Fact]
    public async Task A_registration_with_an_unknown_time_zone_is_refused_naming_the_series_and_registers_nothing()
    {
        string key = "tz-" + Guid.NewGuid().ToString("N")[..8];
        SeriesRegistration[] series = [new(key + "/paris", 3600, TimeZone: "Europe/Paris"), new(key + "/mars", 3600, TimeZone: "Mars/Olympus_Mons")];

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _repository.RegisterAsync(series, CancellationToken.None));

        Assert.Contains($"Series '{key}/mars': 'Mars/Olympus_Mons' is not a known time zone", error.Message, StringComparison.Ordinal);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("select count(*) from series where series_key like @prefix", new { prefix = key + "/%" }));
        var registered = await _repository.RegisterAsync([series[0]], CancellationToken.None);
        Assert.Equal("Europe/Paris", await connection.ExecuteScalarAsync<string>(
            "select time_zone from series where series_id = @id", new { id = registered[key + "/paris"] }));
    }
}
