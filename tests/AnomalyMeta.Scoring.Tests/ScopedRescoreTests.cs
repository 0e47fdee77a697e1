using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Dapper;

namespace AnomalyMeta.Scoring.Tests;

/// <summary>
/// Scoped rescores on the real pipeline: a spike is planted in one series inside the scope and one outside; the rescore
/// flags the first, and every anomaly row of every series outside the scope stays as it was, byte for byte.
/// </summary>
public sealed class ScopedRescoreTests(PreparedFleetFixture fixture) : IClassFixture<PreparedFleetFixture>
{
    private static readonly DateOnly Day = SmallFleet.Options.ScoringDay;

    // Noon: past the quiet half day after a flag late the night before, so a spike there is flagged.
    private const int SpikeHour = 12;

    private SmallFleet Fleet => fixture.Fleet;

    [Fact]
    public async Task A_rescore_scoped_by_series_replaces_the_flags_of_those_series_only()
    {
        var quiet = await QuietSeriesAsync();

        await RescoreAndCheckAsync(new RunScope(Series: [quiet[0], quiet[1]]), spikedInside: quiet[0], spikedOutside: quiet[2]);
    }

    [Fact]
    public async Task A_rescore_scoped_by_tag_replaces_the_flags_of_the_tagged_series_only()
    {
        var quiet = await QuietSeriesAsync();
        string team = "team-" + Guid.NewGuid().ToString("N")[..6];
        await new SeriesTagStore(DataSource)
            .MergeAsync([new(quiet[10], "team", team), new(quiet[11], "team", team), new(quiet[12], "team", team), new(quiet[13], "team", "other")],
                "test", CancellationToken.None);

        var ids = await RescoreAndCheckAsync(new RunScope(Tags: new Dictionary<string, string> { ["team"] = team }),
            spikedInside: quiet[11], spikedOutside: quiet[13]);

        Assert.Equal(3, ids.Length);
    }

    [Fact]
    public async Task A_rescore_scoped_by_cluster_replaces_the_flags_of_that_clusters_series_only()
    {
        var quiet = await QuietSeriesAsync();
        await using var connection = await DataSource.OpenConnectionAsync();
        var clusterOf = (await connection.QueryAsync<(string Key, int Cluster)>(
            """
            select s.series_key, a.cluster_id from series s
            join series_assignment a on a.series_id = s.series_id
            where a.cluster_version = (select max(cluster_version) from clustering where live_at is not null)
            """)).ToDictionary(r => r.Key, r => r.Cluster);
        string inside = quiet.Skip(20).First(clusterOf.ContainsKey);
        string outside = quiet.Skip(20).First(k => clusterOf.TryGetValue(k, out int c) && c != clusterOf[inside]);

        var ids = await RescoreAndCheckAsync(new RunScope(Cluster: clusterOf[inside]), spikedInside: inside, spikedOutside: outside);

        Assert.Equal(clusterOf.Count(c => c.Value == clusterOf[inside]), ids.Length);
    }

    [Fact]
    public async Task Unknown_series_in_a_scope_are_named_and_nothing_is_run()
    {
        var quiet = await QuietSeriesAsync();
        int runsBefore = await RunCountAsync();

        var refused = await Assert.ThrowsAsync<ScopeException>(() => Fleet.Scoring().RunAsync(
            new ScoringRequest(RunKind.Rescore, Day, "test", "typo", Scope: new RunScope(Series: [quiet[0], "no-such-a", "no-such-b"])),
            CancellationToken.None));

        Assert.Contains("'no-such-a', 'no-such-b'", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(quiet[0], refused.Message, StringComparison.Ordinal);
        Assert.Equal(runsBefore, await RunCountAsync());
    }

    [Fact]
    public async Task A_muted_series_flags_are_written_marked_muted_and_left_out_of_alertable_anomalies()
    {
        var quiet = await QuietSeriesAsync();
        string muted = quiet[^1];
        var noon = Day.ToDateTime(new TimeOnly(SpikeHour, 0), DateTimeKind.Utc);
        var mute = await new MuteStore(DataSource).MuteAsync(muted, noon.AddHours(-1), noon.AddHours(1), "maintenance", "test", CancellationToken.None);
        await SpikeAsync(muted);

        var rescore = await Fleet.Scoring().RunAsync(
            new ScoringRequest(RunKind.Rescore, Day, "test", "after maintenance", Scope: new RunScope(Series: [muted])), CancellationToken.None);

        await using var connection = await DataSource.OpenConnectionAsync();
        var flag = await connection.QuerySingleAsync<(long RunId, bool Muted)>(
            "select a.run_id, a.muted from anomaly a join series s using (series_id) where s.series_key = @muted and a.as_of = @Day and a.ts = @noon",
            new { muted, Day, noon });
        Assert.Equal((rescore.RunId, true), flag);
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(
            "select count(*) from alertable_anomaly where series_key = @muted and as_of = @Day and ts = @noon", new { muted, Day, noon }));
        Assert.Equal(0, mute.FlagsMarked);
    }

    private Npgsql.NpgsqlDataSource DataSource => fixture.DataSource;

    /// <summary>
    /// Scores the day (once), plants a spike inside and outside the scope, rescores the scope and checks that the
    /// rescore wrote only its series' flags, flagged the spike inside, left every other series' rows alone, and that
    /// the ledger records the scope. Returns the scope's series.
    /// </summary>
    private async Task<int[]> RescoreAndCheckAsync(RunScope scope, string spikedInside, string spikedOutside)
    {
        await SpikeAsync(spikedInside);
        await SpikeAsync(spikedOutside);
        var expected = (await Fleet.Ledger.Scopes.ResolveAsync(scope, CancellationToken.None)).SeriesIds;
        var before = await FlagRowsAsync();

        var rescore = await Fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Rescore, Day, "test", "scoped", Scope: scope), CancellationToken.None);
        var after = await FlagRowsAsync();

        var inScope = expected.ToHashSet();
        foreach (int series in before.Keys.Union(after.Keys).Where(s => !inScope.Contains(s)))
        {
            Assert.Equal(before.GetValueOrDefault(series, []), after.GetValueOrDefault(series, []));
        }
        await using var connection = await DataSource.OpenConnectionAsync();
        Assert.Empty(await connection.QueryAsync<int>(
            "select series_id from anomaly where run_id = @RunId and not series_id = any(@expected)", new { rescore.RunId, expected }));
        var noon = Day.ToDateTime(new TimeOnly(SpikeHour, 0), DateTimeKind.Utc);
        Assert.Equal(rescore.RunId, await connection.ExecuteScalarAsync<long?>(
            "select a.run_id from anomaly a join series s using (series_id) where s.series_key = @spikedInside and a.as_of = @Day and a.ts = @noon",
            new { spikedInside, Day, noon }));
        var run = await Fleet.Ledger.GetAsync(rescore.RunId, CancellationToken.None);
        Assert.Equal(scope.ToJson(), run!.Scope?.ToJson());
        Assert.Equal(RunStatus.Succeeded, run.Status);
        Assert.Equal(expected.Length, run.SeriesTotal);
        Assert.Equal(expected, (await connection.QueryAsync<int>("select series_id from run_series where run_id = @RunId order by series_id", new { rescore.RunId })).ToArray());
        Assert.Equal(scope.ToString(), (await Fleet.Queries.RunAsync(rescore.RunId, CancellationToken.None))!.Scope!.ToString());
        return expected;
    }

    /// <summary>Series the nightly run of the day scored with their own cluster's model and found nothing in, by key.</summary>
    private async Task<IReadOnlyList<string>> QuietSeriesAsync()
    {
        var nightly = await Fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, Day, "test"), CancellationToken.None);
        await using var connection = await DataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<string>(
            """
            select s.series_key from run_series rs join series s using (series_id)
            where rs.run_id = @RunId and rs.status = 'scored' and rs.detail is null and rs.anomaly_count = 0
            order by s.series_key
            """, new { nightly.RunId })).AsList();
    }

    private async Task SpikeAsync(string key)
    {
        int id = (await Fleet.Series.RegisterAsync([new(key, 3600)], CancellationToken.None))[key];
        var points = Enumerable.Repeat(float.NaN, SmallFleet.Options.PointsPerDay).ToArray();
        // NaN keeps the stored point (merge): only noon changes.
        points[SpikeHour] = 1e6f;
        await Fleet.Series.WriteObservationsAsync([new DayRow(id, Day, points)], CancellationToken.None);
    }

    /// <summary>Every anomaly row of the day as PostgreSQL prints it, per series.</summary>
    private async Task<Dictionary<int, string[]>> FlagRowsAsync()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        var rows = await connection.QueryAsync<(int SeriesId, string Row)>(
            "select series_id, a::text from anomaly a where as_of = @Day order by series_id, ts", new { Day });
        return rows.GroupBy(r => r.SeriesId).ToDictionary(g => g.Key, g => g.Select(r => r.Row).ToArray());
    }

    private async Task<int> RunCountAsync()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>("select count(*)::int from run");
    }
}
