using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>
/// Which of a day's anomalies to list. Every filter is optional; they combine with AND. <paramref name="Tags"/> holds
/// key=value pairs the series' tags must all contain; <paramref name="Search"/> is a case-insensitive part of the
/// series key; <paramref name="SeriesKey"/> names one series exactly; <paramref name="ClusterId"/> is the series'
/// current cluster.
/// </summary>
public sealed record AnomalyFilter(
    DateOnly AsOf,
    int? ClusterId = null,
    IReadOnlyList<KeyValuePair<string, string>>? Tags = null,
    float? MinScore = null,
    string? Search = null,
    string? SeriesKey = null);

/// <summary>
/// Where a page of a day's ranking ends: the last row's score, series and timestamp. The ranking (score, series id,
/// timestamp, all descending) is a total order, so the next page is every row strictly after it: rows written or
/// rescored meanwhile neither repeat nor shift a page as an offset would.
/// </summary>
public readonly record struct AnomalyCursor(float Score, int SeriesId, DateTime Ts)
{
    /// <summary>An opaque token: the score's exact bits, the series id and the timestamp's ticks.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{BitConverter.SingleToInt32Bits(Score):x8}.{SeriesId}.{Ts.Ticks}");

    /// <summary>Reads a token made by <see cref="ToString"/>; false for anything else.</summary>
    public static bool TryParse(string? token, out AnomalyCursor cursor)
    {
        cursor = default;
        var parts = token?.Split('.');
        if (parts is not { Length: 3 }
            || !int.TryParse(parts[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int bits)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int seriesId)
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)
            || ticks > DateTime.MaxValue.Ticks
            || !float.IsFinite(BitConverter.Int32BitsToSingle(bits)))
        {
            return false;
        }
        cursor = new AnomalyCursor(BitConverter.Int32BitsToSingle(bits), seriesId, new DateTime(ticks, DateTimeKind.Utc));
        return true;
    }
}

/// <summary>One flagged point with its series' key, tags (a JSON object) and current cluster.</summary>
public sealed record AnomalyLine(
    DateOnly AsOf,
    string SeriesKey,
    DateTime Ts,
    float Score,
    float Value,
    float Forecast,
    float LowerBand,
    float UpperBand,
    long RunId,
    int? ClusterVersion,
    int? ClusterId,
    string TagsJson)
{
    internal int SeriesId { get; init; }
}

/// <summary>A page of a day's anomalies, highest score first; <paramref name="Next"/> continues it (null on the last page).</summary>
public sealed record AnomalyPage(IReadOnlyList<AnomalyLine> Items, AnomalyCursor? Next);

/// <summary>How many flags (and distinct series) of a day carry one tag value.</summary>
public sealed record TagCount(string Key, string Value, int Anomalies, int Series, float MaxScore);

/// <summary>A day's counts per tag value, with the day's totals and when they were counted.</summary>
public sealed record TagCounts(DateOnly AsOf, int Anomalies, int Series, DateTime ComputedAt, IReadOnlyList<TagCount> Counts);

/// <summary>
/// Series per status of one run (<c>run_series</c> grouped by status). <paramref name="Live"/>: the run has not ended,
/// the counts are what it has committed so far.
/// </summary>
public sealed record RunStatusCounts(long RunId, IReadOnlyDictionary<string, int> Counts, bool Live);

/// <summary>One day of a series' flag history.</summary>
public sealed record SeriesAnomalyDay(DateOnly AsOf, int Anomalies, float MaxScore);

/// <summary>
/// A series' flags over a range of scoring days, newest first, and their count per day;
/// <paramref name="Truncated"/> when more flags exist than were returned.
/// </summary>
public sealed record SeriesAnomalies(string SeriesKey, DateOnly From, DateOnly To, IReadOnlyList<SeriesAnomalyDay> Days,
    IReadOnlyList<AnomalyLine> Flags, bool Truncated);

/// <summary>
/// What the dashboard, the JSON API and scripts read: a day's flags ranked by score with filters and keyset paging,
/// counts per tag value, a series' flags across days, and runs' counts per status. Each query has the index or
/// summary made for it in <c>db/0016_dashboard_indexes.sql</c>.
/// </summary>
/// <param name="dataSource">The database read.</param>
/// <param name="tagTopDepth">Flags kept per tag value and day (<see cref="TagTopDepth"/>; tests choose fewer).</param>
public sealed class DashboardQueries(NpgsqlDataSource dataSource, int tagTopDepth = DashboardQueries.TagTopDepth)
{
    /// <summary>Most rows in one page.</summary>
    public const int MaxPageSize = 500;

    /// <summary>Most flags of one series returned at once.</summary>
    public const int MaxSeriesFlags = 2000;

    /// <summary>Flags kept per tag value and day in <c>anomaly_tag_top</c>: ten pages of 50, or one of the largest.</summary>
    public const int TagTopDepth = 500;

    // The series count the planner keeps (pg_class.reltuples), read again after this long: it only sets a crossover.
    private static readonly TimeSpan SeriesEstimateAge = TimeSpan.FromMinutes(5);

    private (double Series, long ReadAt) _seriesEstimate = (0, long.MinValue);

    // Second half of the two-int advisory key space of RunLock ("AMrn"): "AMtc", tag counts of a day.
    private const int TagCountLockSpace = 0x414D7463;

    // A line's columns: the flag's from alias a, its series' from alias s; anomaly_tag_top holds both (db/0022).
    private static readonly string LineColumns = LineColumnsOf(flag: "a", series: "s");

    private static readonly string TagTopLineColumns = LineColumnsOf(flag: "t", series: "t");

    private static string LineColumnsOf(string flag, string series) =>
        $"""
        {flag}.as_of as AsOf, {series}.series_key as SeriesKey, {flag}.ts as Ts, {flag}.score as Score, {flag}.value as Value,
        {flag}.forecast as Forecast, {flag}.lower_band as LowerBand, {flag}.upper_band as UpperBand, {flag}.run_id as RunId,
        {series}.cluster_version as ClusterVersion, {series}.cluster_id as ClusterId, {series}.tags::text as TagsJson, {series}.series_id as SeriesId
        """;

    /// <summary>A page of a day's anomalies matching <paramref name="filter"/>, highest score first, after <paramref name="after"/>.</summary>
    public async Task<AnomalyPage> AnomaliesAsync(AnomalyFilter filter, AnomalyCursor? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxPageSize);
        var sql = new StringBuilder($"select {LineColumns} from anomaly a join series s using (series_id) where a.as_of = @asOf");
        var parameters = new DynamicParameters();
        parameters.Add("asOf", filter.AsOf);
        // Only the filters given go into the statement: "@x is null or ..." would leave the planner one plan for all.
        if (filter.MinScore is float minScore)
        {
            sql.Append(" and a.score >= @minScore");
            parameters.Add("minScore", minScore);
        }
        var seriesFilter = new StringBuilder();
        if (filter.ClusterId is int clusterId)
        {
            seriesFilter.Append(" and s.cluster_id = @clusterId");
            parameters.Add("clusterId", clusterId);
        }
        if (filter.Tags is { Count: > 0 } tags)
        {
            seriesFilter.Append(" and s.tags @> @tags::jsonb");
            parameters.Add("tags", TagsObject(tags));
        }
        if (!string.IsNullOrEmpty(filter.Search))
        {
            seriesFilter.Append(" and s.series_key ilike @pattern");
            parameters.Add("pattern", "%" + EscapeLike(filter.Search) + "%");
        }
        if (!string.IsNullOrEmpty(filter.SeriesKey))
        {
            seriesFilter.Append(" and s.series_key = @seriesKey");
            parameters.Add("seriesKey", filter.SeriesKey);
        }
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (filter.Tags is [var onlyTag] && filter.ClusterId is null && string.IsNullOrEmpty(filter.Search) && string.IsNullOrEmpty(filter.SeriesKey)
            && await TagTopPageAsync(connection, filter.AsOf, onlyTag, filter.MinScore, after, limit, cancellationToken) is AnomalyPage fromTagTop)
        {
            return fromTagTop;
        }
        if (seriesFilter.Length > 0)
        {
            // Two ways to the page: walk the day's ranking and keep the rows whose series match (cheap when many series
            // match: the page fills after ~50 × N / matches rows), or take the matching series and their flags by primary
            // key (cheap when few match). The planner cannot tell which from a key search or a tag value (it estimates
            // both from samples, and a wrong guess costs seconds at 2 million series), so the series are counted here,
            // up to the point where both ways cost the same: about sqrt(page × N) series, 10,000 at 2 million.
            int seriesFirst = await SeriesFirstLimitAsync(connection, limit, cancellationToken);
            var seriesParameters = new DynamicParameters(parameters);
            seriesParameters.Add("cap", seriesFirst + 1);
            var matching = (await connection.QueryAsync<int>(new CommandDefinition(
                $"select s.series_id from series s where true {seriesFilter} limit @cap", seriesParameters, cancellationToken: cancellationToken))).AsList();
            if (matching.Count <= seriesFirst)
            {
                sql.Append(" and a.series_id = any(@seriesIds)");
                parameters.Add("seriesIds", matching.ToArray());
            }
            else
            {
                sql.Append(seriesFilter);
            }
        }
        AppendRankedPage(sql, parameters, "a", after, limit);

        var rows = (await connection.QueryAsync<LineRow>(new CommandDefinition(sql.ToString(), parameters, cancellationToken: cancellationToken))).AsList();
        return PageOf(rows, limit);
    }

    /// <summary>
    /// The page's place in the ranking (score, series id, timestamp, all descending) over the rows of <paramref name="alias"/>:
    /// after the cursor, in that order, one row more than asked (it says whether another page exists, without counting).
    /// </summary>
    private static void AppendRankedPage(StringBuilder sql, DynamicParameters parameters, string alias, AnomalyCursor? after, int limit)
    {
        if (after is AnomalyCursor cursor)
        {
            // One row comparison in the ranking's own order: the index seeks straight to the page's first row.
            sql.Append(CultureInfo.InvariantCulture, $" and ({alias}.score, {alias}.series_id, {alias}.ts) < (@afterScore, @afterSeries, @afterTs)");
            parameters.Add("afterScore", cursor.Score);
            parameters.Add("afterSeries", cursor.SeriesId);
            parameters.Add("afterTs", cursor.Ts);
        }
        sql.Append(CultureInfo.InvariantCulture, $" order by {alias}.score desc, {alias}.series_id desc, {alias}.ts desc limit @take");
        parameters.Add("take", limit + 1);
    }

    private static AnomalyPage PageOf(List<LineRow> rows, int limit)
    {
        var items = rows.Take(limit).Select(r => r.ToLine()).ToList();
        AnomalyCursor? next = rows.Count > limit ? new AnomalyCursor(items[^1].Score, items[^1].SeriesId, items[^1].Ts) : null;
        return new AnomalyPage(items, next);
    }

    /// <summary>
    /// A page of one tag value's flags read from the day's stored top flags of that value (<c>anomaly_tag_top</c>, made
    /// with the counts per tag value): one index range scan over rows that carry the whole line. Null when the
    /// stored list ends before the page does and does not hold all of the value's flags: the caller walks the ranking.
    /// </summary>
    private async Task<AnomalyPage?> TagTopPageAsync(NpgsqlConnection connection, DateOnly asOf, KeyValuePair<string, string> tag, float? minScore,
        AnomalyCursor? after, int limit, CancellationToken cancellationToken)
    {
        // Rows come only while the day's stored summary is current (checked in the same statement, one round trip);
        // no row means it is stale, or the value has no flag that day: then the summary is made sure of and read again.
        var sql = new StringBuilder(
            $"""
            select {TagTopLineColumns}
            from anomaly_tag_top t
            where t.as_of = @asOf and t.tag_key = @key and t.tag_value = @value
              and (select run_stamp from anomaly_tag_count_day where as_of = @asOf) = {RunStampSql}
            """);
        var parameters = new DynamicParameters(new { asOf, key = tag.Key, value = tag.Value });
        if (minScore is float min)
        {
            sql.Append(" and t.score >= @minScore");
            parameters.Add("minScore", min);
        }
        AppendRankedPage(sql, parameters, "t", after, limit);
        var command = new CommandDefinition(sql.ToString(), parameters, cancellationToken: cancellationToken);
        var rows = (await connection.QueryAsync<LineRow>(command)).AsList();
        if (rows.Count == 0)
        {
            await DaySummaryAsync(connection, asOf, cancellationToken);
            rows = (await connection.QueryAsync<LineRow>(command)).AsList();
        }
        if (rows.Count > limit)
        {
            return PageOf(rows, limit);
        }
        // The page ended inside the stored list: it is the whole answer when the list holds every flag of the value.
        int flags = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "select anomalies from anomaly_tag_count where as_of = @asOf and tag_key = @key and tag_value = @value",
            new { asOf, key = tag.Key, value = tag.Value }, cancellationToken: cancellationToken)) ?? 0;
        return flags <= tagTopDepth ? PageOf(rows, limit) : null;
    }

    /// <summary>
    /// Most series a filter may match for a page of <paramref name="pageSize"/> to be read from those series' flags
    /// rather than by walking the day's ranking: sqrt(page × series), where both cost about as many index probes.
    /// </summary>
    private async Task<int> SeriesFirstLimitAsync(NpgsqlConnection connection, int pageSize, CancellationToken cancellationToken)
    {
        var (series, readAt) = _seriesEstimate;
        if (Stopwatch.GetElapsedTime(readAt) > SeriesEstimateAge || readAt == long.MinValue)
        {
            series = await connection.ExecuteScalarAsync<double>(new CommandDefinition(
                "select greatest(reltuples, 0)::float8 from pg_class where oid = 'series'::regclass", cancellationToken: cancellationToken));
            _seriesEstimate = (series, Stopwatch.GetTimestamp());
        }
        return Math.Max(100, (int)Math.Sqrt((pageSize + 1) * Math.Max(series, 1)));
    }

    /// <summary>
    /// A series' flags of the scoring days <paramref name="from"/> to <paramref name="to"/>, newest first (at most
    /// <see cref="MaxSeriesFlags"/>), with the count per day; null for an unknown series.
    /// </summary>
    public async Task<SeriesAnomalies?> SeriesAnomaliesAsync(string seriesKey, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(seriesKey);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        int? seriesId = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
            "select series_id from series where series_key = @seriesKey", new { seriesKey }, cancellationToken: cancellationToken));
        if (seriesId is null)
        {
            return null;
        }
        // A day's flags lie within that day (UTC), so the timestamp range keeps the walk to the days asked for on
        // anomaly_series_ts (series_id, ts desc); the as_of test states the contract.
        var rows = (await connection.QueryAsync<LineRow>(new CommandDefinition(
            $"""
            select {LineColumns}
            from anomaly a join series s using (series_id)
            where a.series_id = @seriesId and a.ts >= @fromTs and a.ts < @toTs and a.as_of between @from and @to
            order by a.ts desc
            limit @take
            """,
            new
            {
                seriesId,
                from,
                to,
                fromTs = from.AddDays(-1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc),
                toTs = to.AddDays(2).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc),
                take = MaxSeriesFlags + 1,
            },
            cancellationToken: cancellationToken))).AsList();
        var flags = rows.Take(MaxSeriesFlags).Select(r => r.ToLine()).ToList();
        var days = flags.GroupBy(f => f.AsOf)
            .Select(g => new SeriesAnomalyDay(g.Key, g.Count(), g.Max(f => f.Score)))
            .OrderByDescending(d => d.AsOf)
            .ToList();
        return new SeriesAnomalies(seriesKey, from, to, days, flags, rows.Count > MaxSeriesFlags);
    }

    /// <summary>
    /// A day's flags counted per tag value (of <paramref name="tagKey"/> only, or of every key), most flagged first.
    /// Counted once per state of the day's runs and series tags and kept in <c>anomaly_tag_count</c>; recounted when a
    /// run of the day has written since, or a series' tags changed.
    /// </summary>
    public async Task<TagCounts> TagCountsAsync(DateOnly asOf, string? tagKey, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var stored = await DaySummaryAsync(connection, asOf, cancellationToken);
        var counts = (await connection.QueryAsync<TagCount>(new CommandDefinition(
            $"""
            select tag_key as Key, tag_value as Value, anomalies as Anomalies, series as Series, max_score as MaxScore
            from anomaly_tag_count
            where as_of = @asOf {(tagKey is null ? "" : "and tag_key = @tagKey")}
            order by tag_key, anomalies desc, tag_value
            """,
            new { asOf, tagKey }, cancellationToken: cancellationToken))).AsList();
        return stored with { Counts = counts };
    }

    /// <summary>The day's summaries made current (see below), on their own connection: for the job that makes them after a run.</summary>
    public async Task<TagCounts> DaySummaryAsync(DateOnly asOf, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await DaySummaryAsync(connection, asOf, cancellationToken);
    }

    /// <summary>
    /// The day's summaries as they stand for the day's runs and series tags now: its counts per tag value
    /// (<c>anomaly_tag_count</c>) and its top flags per tag value (<c>anomaly_tag_top</c>), made again when stale.
    /// Returns the day's totals.
    /// </summary>
    private async Task<TagCounts> DaySummaryAsync(NpgsqlConnection connection, DateOnly asOf, CancellationToken cancellationToken)
    {
        var stored = await StoredTagCountsAsync(connection, asOf, null, cancellationToken);
        if (stored is not null)
        {
            return stored;
        }
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // One counter per day at a time: a second page load waits for the first count instead of repeating it.
        await connection.ExecuteAsync(new CommandDefinition("select pg_advisory_xact_lock(@space, @day)",
            new { space = TagCountLockSpace, day = asOf.DayNumber }, transaction, cancellationToken: cancellationToken));
        stored = await StoredTagCountsAsync(connection, asOf, transaction, cancellationToken);
        if (stored is null)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                delete from anomaly_tag_count_day where as_of = @asOf;
                -- A series' flags share its tags, so everything is counted per flagged series (about a fifth of the
                -- flags) rather than per flag: no count(distinct), and a fifth of the rows to sort.
                create temporary table day_series on commit drop as
                select series_id, count(*)::integer as flags, max(score) as best_score
                from anomaly where as_of = @asOf
                group by series_id;
                insert into anomaly_tag_count_day (as_of, run_stamp, anomalies, series)
                select @asOf, @stamp, coalesce(sum(flags), 0), count(*) from day_series;
                create temporary table day_tag_series on commit drop as
                select t.key, t.value, d.series_id, d.flags, d.best_score
                from day_series d join series s using (series_id) cross join lateral jsonb_each_text(s.tags) t;
                insert into anomaly_tag_count (as_of, tag_key, tag_value, anomalies, series, max_score)
                select @asOf, key, value, sum(flags), count(*), max(best_score)
                from day_tag_series
                group by key, value;
                -- A value's top flags come from its top series by (best score, series id): a series ranked below
                -- @depth others has @depth better flags above each of its own. So only those series' flags are ranked.
                insert into anomaly_tag_top (as_of, tag_key, tag_value, score, series_id, ts, value, forecast, lower_band, upper_band,
                                             run_id, series_key, cluster_version, cluster_id, tags)
                select @asOf, top.key, top.value, top.score, top.series_id, top.ts, top.flag_value, top.forecast, top.lower_band, top.upper_band,
                       top.run_id, s.series_key, s.cluster_version, s.cluster_id, s.tags
                from (select b.key, b.value, a.score, a.series_id, a.ts, a.value as flag_value, a.forecast, a.lower_band, a.upper_band, a.run_id,
                             row_number() over (partition by b.key, b.value order by a.score desc, a.series_id desc, a.ts desc) as rank
                      from (select key, value, series_id
                            from (select key, value, series_id,
                                         row_number() over (partition by key, value order by best_score desc, series_id desc) as rank
                                  from day_tag_series) ranked_series
                            where rank <= @depth) b
                      join anomaly a on a.as_of = @asOf and a.series_id = b.series_id) top
                join series s on s.series_id = top.series_id
                where top.rank <= @depth
                -- In page order, so a page's rows share a few heap pages.
                order by top.key, top.value, top.score desc, top.series_id desc, top.ts desc;
                """,
                new { asOf, stamp = await RunStampAsync(connection, asOf, transaction, cancellationToken), depth = tagTopDepth }, transaction,
                cancellationToken: cancellationToken));
            stored = await StoredTagCountsAsync(connection, asOf, transaction, cancellationToken)
                ?? throw new InvalidOperationException($"The tag counts of {asOf:yyyy-MM-dd} were written and not found.");
        }
        await transaction.CommitAsync(cancellationToken);
        return stored;
    }

    /// <summary>The stored counts' totals of the day when they match the day's runs as they are now, else null.</summary>
    private static async Task<TagCounts?> StoredTagCountsAsync(NpgsqlConnection connection, DateOnly asOf, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        var day = (await connection.QueryAsync<(string Stamp, int Anomalies, int Series, DateTime ComputedAt)>(new CommandDefinition(
            "select run_stamp, anomalies, series, computed_at from anomaly_tag_count_day where as_of = @asOf",
            new { asOf }, transaction, cancellationToken: cancellationToken))).FirstOrDefault();
        return day.Stamp is not null && day.Stamp == await RunStampAsync(connection, asOf, transaction, cancellationToken)
            ? new TagCounts(asOf, day.Anomalies, day.Series, DateTime.SpecifyKind(day.ComputedAt, DateTimeKind.Utc), [])
            : null;
    }

    /// <summary>
    /// The state of a day's runs as far as its flags go: every run of the date with its status, committed batches and
    /// flags written. A committed batch, a new rescore or a run ending changes it (run_as_of finds the rows), and so
    /// does a change of any series' tags or cluster (the series_tags_version sequence, db/0017 and db/0022).
    /// </summary>
    private static async Task<string> RunStampAsync(NpgsqlConnection connection, DateOnly asOf, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<string>(new CommandDefinition($"select {RunStampSql}", new { asOf }, transaction, cancellationToken: cancellationToken)) ?? "";

    // The stamp as an expression of @asOf, so a read can check its summary is current within its own statement.
    private const string RunStampSql =
        """
        (select coalesce(string_agg(concat_ws(':', run_id, status, batches_done, anomalies_written), ',' order by run_id), '')
                || ' tags:' || (select last_value from series_tags_version)
         from run where as_of = @asOf)
        """;

    /// <summary>
    /// Series per status of each run of <paramref name="runIds"/>: counted once when a run has ended and kept
    /// (<c>run_status_count</c>), counted live while it has not.
    /// </summary>
    public async Task<IReadOnlyDictionary<long, RunStatusCounts>> RunStatusCountsAsync(IReadOnlyCollection<long> runIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runIds);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var runs = (await connection.QueryAsync<(long RunId, string Status, DateTime? FinishedAt, DateTime? CountedAt)>(new CommandDefinition(
            """
            select r.run_id, r.status, r.finished_at, (select min(c.finished_at) from run_status_count c where c.run_id = r.run_id)
            from run r where r.run_id = any(@ids)
            """,
            new { ids = runIds.ToArray() }, cancellationToken: cancellationToken))).AsList();
        foreach (var run in runs.Where(r => r.FinishedAt is not null && r.Status is "succeeded" or "failed" && r.CountedAt != r.FinishedAt))
        {
            // Counted in one statement against the finish time read above: a run reopened meanwhile is counted again later.
            await connection.ExecuteAsync(new CommandDefinition(
                """
                delete from run_status_count where run_id = @runId;
                insert into run_status_count (run_id, finished_at, status, series)
                select @runId, @finishedAt, status, count(*) from run_series where run_id = @runId group by status;
                """,
                new { runId = run.RunId, finishedAt = run.FinishedAt }, cancellationToken: cancellationToken));
        }
        var finished = runs.Where(r => r.FinishedAt is not null && r.Status is "succeeded" or "failed").Select(r => r.RunId).ToArray();
        var live = runs.Select(r => r.RunId).Except(finished).ToArray();
        var rows = (await connection.QueryAsync<(long RunId, string Status, int Series, bool Live)>(new CommandDefinition(
            """
            select run_id, status, series, false from run_status_count where run_id = any(@finished)
            union all
            select run_id, status, count(*)::int, true from run_series where run_id = any(@live) group by run_id, status
            """,
            new { finished, live }, cancellationToken: cancellationToken))).AsList();
        return runs.ToDictionary(r => r.RunId, r => new RunStatusCounts(r.RunId,
            rows.Where(x => x.RunId == r.RunId).OrderBy(x => x.Status, StringComparer.Ordinal).ToDictionary(x => x.Status, x => x.Series),
            live.Contains(r.RunId)));
    }

    /// <summary>
    /// The newest scoring date of a run that succeeded, or null when none did: the day a dashboard opens on (a rescore
    /// queued for a later date, or a run that failed, has no flags to show).
    /// </summary>
    public async Task<DateOnly?> LatestDayAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var latest = await connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition(
            "select max(as_of) from run where status = 'succeeded'", cancellationToken: cancellationToken));
        return latest is DateTime day ? DateOnly.FromDateTime(day) : null;
    }

    private static string TagsObject(IReadOnlyList<KeyValuePair<string, string>> tags)
    {
        var json = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in tags)
        {
            // Two values of one key cannot both be contained: the later wins, as in a query string read into a map.
            json[key] = value;
        }
        return JsonSerializer.Serialize(json);
    }

    private static string EscapeLike(string text) =>
        text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);

    // Dapper fills a class by column name; the record's constructor takes a DateOnly Dapper reads as DateTime.
    private sealed class LineRow
    {
        public DateTime AsOf { get; init; }

        public string SeriesKey { get; init; } = "";

        public DateTime Ts { get; init; }

        public float Score { get; init; }

        public float Value { get; init; }

        public float Forecast { get; init; }

        public float LowerBand { get; init; }

        public float UpperBand { get; init; }

        public long RunId { get; init; }

        public int? ClusterVersion { get; init; }

        public int? ClusterId { get; init; }

        public string TagsJson { get; init; } = "{}";

        public int SeriesId { get; init; }

        public AnomalyLine ToLine() => new(DateOnly.FromDateTime(AsOf), SeriesKey, DateTime.SpecifyKind(Ts, DateTimeKind.Utc), Score, Value,
            Forecast, LowerBand, UpperBand, RunId, ClusterVersion, ClusterId, TagsJson) { SeriesId = SeriesId };
    }
}
