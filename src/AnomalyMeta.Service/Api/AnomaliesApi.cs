using System.Globalization;
using System.Text.Json;
using AnomalyMeta.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnomalyMeta.Service.Api;

/// <summary>
/// The dashboard's and scripts' read endpoints: a day's anomalies ranked by score with filters and keyset paging,
/// counts per tag value of a day, a series' flags across days, and the run ledger with series per status. Read only,
/// no API key (like GET /api/runs).
/// </summary>
public static class AnomaliesApi
{
    /// <summary>Rows of a page when the request does not say.</summary>
    public const int DefaultPageSize = 50;

    /// <summary>Most scoring days one series request spans.</summary>
    public const int MaxSeriesDays = 90;

    /// <summary>One flagged point; <paramref name="Tags"/> is the series' tags object.</summary>
    public sealed record AnomalyItem(
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
        JsonElement Tags,
        string SeriesDay)
    {
        public static AnomalyItem From(AnomalyLine line)
        {
            ArgumentNullException.ThrowIfNull(line);
            using var tags = JsonDocument.Parse(line.TagsJson);
            return new AnomalyItem(line.AsOf, line.SeriesKey, line.Ts, line.Score, line.Value, line.Forecast, line.LowerBand, line.UpperBand,
                line.RunId, line.ClusterVersion, line.ClusterId, tags.RootElement.Clone(), SeriesDayPath(line.SeriesKey, line.AsOf));
        }
    }

    /// <summary>A page of a day's ranking; pass <paramref name="Next"/> as <c>after</c> for the next page (null on the last).</summary>
    public sealed record AnomalyPageResponse(DateOnly? Date, IReadOnlyList<AnomalyItem> Items, string? Next);

    /// <summary>A series' flags across days, newest first.</summary>
    public sealed record SeriesAnomaliesResponse(string SeriesKey, DateOnly From, DateOnly To, IReadOnlyList<SeriesAnomalyDay> Days,
        IReadOnlyList<AnomalyItem> Flags, bool Truncated);

    /// <summary>One run of the ledger with its series per status (<paramref name="Live"/> while the run has not ended).</summary>
    public sealed record RunStatusLine(RunLine Run, IReadOnlyDictionary<string, int> StatusCounts, bool Live);

    public static IEndpointRouteBuilder MapAnomaliesApi(this IEndpointRouteBuilder app)
    {
        var anomalies = app.MapGroup("/api/anomalies").WithTags("Anomalies");
        anomalies.MapGet("", ListAsync)
            .WithSummary("A day's anomalies, highest score first, with filters and keyset paging")
            .WithDescription("date: yyyy-MM-dd (default: the newest day of a succeeded run). cluster: the series' current cluster. tag: key=value, repeatable (all must match). "
                + "minScore: 0 to 1. q: part of the series key (case-insensitive). series: one series key. limit: 1 to 500 (default 50). after: the previous page's 'next'.");
        anomalies.MapGet("/tags", TagsAsync)
            .WithSummary("A day's anomalies counted per tag value (drill-down)")
            .WithDescription("date: yyyy-MM-dd (default: the newest day of a succeeded run). key: one tag key (default: every key).");
        app.MapGet("/api/series/{key}/anomalies", SeriesAsync).WithTags("Anomalies")
            .WithSummary("A series' anomalies over the scoring days before 'to', newest first")
            .WithDescription("to: yyyy-MM-dd (default: the newest day of a succeeded run). days: 1 to 90 (default 30). A key holding '/' is sent as %2F.");
        app.MapGet("/api/runs/statuses", RunStatusesAsync).WithTags("Runs")
            .WithSummary("The newest runs with their series per status (run_series grouped by status)");
        return app;
    }

    /// <summary>The series page's JSON of a flagged day.</summary>
    public static string SeriesDayPath(string seriesKey, DateOnly asOf) =>
        $"/api/series/{Uri.EscapeDataString(seriesKey)}/days/{asOf.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}";

    private static async Task<Results<Ok<AnomalyPageResponse>, ProblemHttpResult>> ListAsync(
        DashboardQueries queries, CancellationToken cancellationToken, string? date = null, int? cluster = null, string[]? tag = null,
        string? minScore = null, string? q = null, string? series = null, int limit = DefaultPageSize, string? after = null)
    {
        var tags = new List<KeyValuePair<string, string>>();
        foreach (string pair in tag ?? [])
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return Invalid($"tag '{pair}' is not key=value.");
            }
            tags.Add(new(pair[..equals], pair[(equals + 1)..]));
        }
        float? min = null;
        if (!string.IsNullOrEmpty(minScore))
        {
            if (!float.TryParse(minScore, NumberStyles.Float, CultureInfo.InvariantCulture, out float parsed) || parsed is not (>= 0 and <= 1))
            {
                return Invalid($"minScore '{minScore}' is not a number from 0 to 1.");
            }
            min = parsed;
        }
        AnomalyCursor? cursor = null;
        if (!string.IsNullOrEmpty(after))
        {
            if (!AnomalyCursor.TryParse(after, out var parsed))
            {
                return Invalid($"after '{after}' is not a page token this API returned (the 'next' of a page).");
            }
            cursor = parsed;
        }
        var (day, problem) = await DayAsync(date, queries, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }
        if (day is not DateOnly asOf)
        {
            return TypedResults.Ok(new AnomalyPageResponse(null, [], null));
        }
        var filter = new AnomalyFilter(asOf, cluster, tags, min, string.IsNullOrWhiteSpace(q) ? null : q.Trim(), string.IsNullOrEmpty(series) ? null : series);
        var page = await queries.AnomaliesAsync(filter, cursor, Math.Clamp(limit, 1, DashboardQueries.MaxPageSize), cancellationToken);
        return TypedResults.Ok(new AnomalyPageResponse(asOf, page.Items.Select(AnomalyItem.From).ToList(), page.Next?.ToString()));
    }

    private static async Task<Results<Ok<TagCounts>, ProblemHttpResult>> TagsAsync(
        DashboardQueries queries, CancellationToken cancellationToken, string? date = null, string? key = null)
    {
        var (day, problem) = await DayAsync(date, queries, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }
        return day is DateOnly asOf
            ? TypedResults.Ok(await queries.TagCountsAsync(asOf, string.IsNullOrEmpty(key) ? null : key, cancellationToken))
            : TypedResults.Problem("Nothing was scored yet: there is no day to count.", statusCode: 404, title: "No scored day");
    }

    private static async Task<Results<Ok<SeriesAnomaliesResponse>, ProblemHttpResult>> SeriesAsync(
        string key, DashboardQueries queries, CancellationToken cancellationToken, string? to = null, int days = 30)
    {
        // As in GET /api/series/{key}/days/{date}: the server leaves %2F encoded so that it cannot split a segment.
        string seriesKey = key.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
        if (days is < 1 or > MaxSeriesDays)
        {
            return Invalid($"days must be 1 to {MaxSeriesDays}, found {days}.");
        }
        var (day, problem) = await DayAsync(to, queries, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }
        var last = day ?? DateOnly.FromDateTime(DateTime.UtcNow);
        var found = await queries.SeriesAnomaliesAsync(seriesKey, last.AddDays(1 - days), last, cancellationToken);
        return found is null
            ? TypedResults.Problem($"There is no series '{seriesKey}'.", statusCode: 404, title: "No such series")
            : TypedResults.Ok(new SeriesAnomaliesResponse(found.SeriesKey, found.From, found.To, found.Days,
                found.Flags.Select(AnomalyItem.From).ToList(), found.Truncated));
    }

    private static async Task<Ok<IReadOnlyList<RunStatusLine>>> RunStatusesAsync(
        AnomalyQueries ledger, DashboardQueries queries, CancellationToken cancellationToken, int limit = 20)
    {
        var runs = await ledger.RecentRunsAsync(Math.Clamp(limit, 1, 100), cancellationToken);
        var counts = await queries.RunStatusCountsAsync(runs.Select(r => r.RunId).ToArray(), cancellationToken);
        IReadOnlyList<RunStatusLine> lines = runs
            .Select(r => counts.TryGetValue(r.RunId, out var c) ? new RunStatusLine(r, c.Counts, c.Live) : new RunStatusLine(r, new Dictionary<string, int>(), true))
            .ToList();
        return TypedResults.Ok(lines);
    }

    /// <summary>The day asked for, or the newest day of a succeeded run when none is given (null when none), or a 400.</summary>
    private static async Task<(DateOnly? Day, ProblemHttpResult? Problem)> DayAsync(string? date, DashboardQueries queries, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(date))
        {
            return (await queries.LatestDayAsync(cancellationToken), null);
        }
        return DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? (day, null)
            : (null, TypedResults.Problem($"'{date}' is not a date in yyyy-MM-dd form.", statusCode: 400, title: "Invalid date"));
    }

    private static ProblemHttpResult Invalid(string detail) => TypedResults.Problem(detail, statusCode: 400, title: "Invalid query");
}
