using System.Globalization;
using AnomalyMeta.Scoring;
using AnomalyMeta.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnomalyMeta.Service.Api;

/// <summary>The series page's data: one series' day as the latest run that scored it saw it. Read only, no key needed.</summary>
public static class SeriesApi
{
    /// <summary>
    /// <see cref="SeriesDay"/> as JSON: JSON has no NaN, so a missing point (and its forecast, band and score) is null.
    /// </summary>
    public sealed record SeriesDayResponse(
        string SeriesKey,
        int StepSeconds,
        DateOnly Date,
        long RunId,
        string RunKind,
        string Status,
        string? Detail,
        int AnomalyCount,
        string Model,
        int SeasonLength,
        float Threshold,
        float? ResidualScale,
        float? ResidualPeak,
        DateOnly ScaleAsOf,
        float? BandHalfWidth,
        DateTime WindowStart,
        IReadOnlyList<float?> Window,
        DateTime DayStart,
        IReadOnlyList<float?> Actual,
        IReadOnlyList<float?> Forecast,
        IReadOnlyList<float?> Lower,
        IReadOnlyList<float?> Upper,
        IReadOnlyList<float?> Scores,
        IReadOnlyList<SeriesDayFlag> Flags,
        IReadOnlyList<SeriesHistoryLine> History)
    {
        public static SeriesDayResponse From(SeriesDay day)
        {
            ArgumentNullException.ThrowIfNull(day);
            return new SeriesDayResponse(day.SeriesKey, day.StepSeconds, day.Date, day.RunId, day.RunKind, day.Status, day.Detail,
                day.AnomalyCount, day.Model, day.SeasonLength, day.Threshold, Finite(day.ResidualScale),
                Finite(day.ResidualPeak), day.ScaleAsOf, Finite(day.BandHalfWidth), day.WindowStart, Nulls(day.Window),
                day.DayStart, Nulls(day.Actual), Nulls(day.Forecast), Nulls(day.Lower), Nulls(day.Upper), Nulls(day.Scores), day.Flags, day.History);
        }

        private static float? Finite(float value) => float.IsFinite(value) ? value : null;

        private static float?[] Nulls(float[] values) => Array.ConvertAll(values, Finite);
    }

    public static IEndpointRouteBuilder MapSeriesApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/series").MapGet("/{key}/days/{date}", GetDayAsync);
        return app;
    }

    private static async Task<Results<Ok<SeriesDayResponse>, ProblemHttpResult>> GetDayAsync(
        string key, string date, SeriesDayQueries queries, ScoringOptions scoring, CancellationToken cancellationToken)
    {
        // The server decodes a path but leaves %2F encoded, so that it cannot split a segment: a key holding '/' arrives
        // with %2F in it.
        string seriesKey = key.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
        if (!DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            return TypedResults.Problem($"'{date}' is not a date in yyyy-MM-dd form.", statusCode: 400, title: "Invalid date");
        }
        var lookup = await queries.DayAsync(seriesKey, day, scoring.Detection, SeriesDayQueries.DefaultHistoryLength, cancellationToken);
        return lookup.Day is SeriesDay found
            ? TypedResults.Ok(SeriesDayResponse.From(found))
            : TypedResults.Problem(lookup.Missing, statusCode: 404, title: "No scored day");
    }
}
