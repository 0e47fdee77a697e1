using System.Globalization;
using System.Security.Claims;
using AnomalyMeta.Core.Series;
using AnomalyMeta.Scoring.Ingest;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;

namespace AnomalyMeta.Service.Api;

/// <summary>
/// <c>POST /api/observations</c>: observations in without a shell. The body (CSV or JSON lines) is streamed through
/// the same ingest as <c>anomalymeta ingest</c>: every reading checked, series put on their steps, merged into the
/// stored days, one transaction per request, memory bounded by a chunk however large the body.
/// </summary>
public static partial class ObservationsApi
{
    /// <summary>The rate limiter policy of the ingest endpoint (a concurrency limit, not a rate: see Program.cs).</summary>
    public const string IngestPolicy = "ingest";

    /// <summary>
    /// Largest body accepted. Memory does not grow with the body (it is staged in PostgreSQL past a chunk); this only
    /// stops a runaway sender from filling the database's disk in one transaction. A day of 2 M hourly series is ~2 GB of CSV.
    /// </summary>
    public const long MaxBodyBytes = 16L * 1024 * 1024 * 1024;

    /// <summary>The name readings are reported under (messages, the series' <c>source</c> tag).</summary>
    public const string SourceName = "request";

    // Bad readings named in the problem's "rejected" extension; the ingest stops at the first, so it holds one.
    private const string RejectedExtension = "rejected";

    /// <summary>The answer to an ingest: what it read and wrote, and the steps its series were put on.</summary>
    public sealed record IngestResult(int Rows, int Series, long DayRows, int AggregatedPoints, IReadOnlyList<StepGroup> Steps,
        IReadOnlyList<OntoRegisteredStep> OntoRegisteredSteps);

    /// <summary>How many series were written on one step, and where the step came from (given, inferred, registered).</summary>
    public sealed record StepGroup(int StepSeconds, string Source, int Series);

    /// <summary>A registered series whose readings looked finer or coarser than its step and were aggregated onto it.</summary>
    public sealed record OntoRegisteredStep(string SeriesKey, int StepSeconds, int? InferredStepSeconds);

    /// <summary>A bad line, as the problem's <c>rejected</c> extension lists it.</summary>
    public sealed record RejectedLine(int Line, string? Field, string Error);

    public static IEndpointRouteBuilder MapObservationsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/observations", IngestAsync)
            .RequireAuthorization()
            .RequireRateLimiting(IngestPolicy)
            .WithMetadata(new RequestSizeLimitAttribute(MaxBodyBytes));
        return app;
    }

    private static async Task<Results<Ok<IngestResult>, ProblemHttpResult>> IngestAsync(
        HttpRequest http, ClaimsPrincipal user, CsvIngest ingest, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var reader = ReaderFor(http.ContentType);
        if (reader is null)
        {
            return TypedResults.Problem($"Content-Type '{http.ContentType}' is not accepted: send text/csv (series_key,timestamp,value) "
                + "or application/x-ndjson (one {\"series_key\", \"timestamp\", \"value\"} object a line).",
                statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported observations format");
        }
        var (options, problem) = OptionsFrom(http.Query);
        if (problem is not null)
        {
            return TypedResults.Problem(problem, statusCode: StatusCodes.Status400BadRequest, title: "Invalid ingest options");
        }
        try
        {
            var report = await ingest.IngestAsync(reader(http.Body, SourceName, cancellationToken), SourceName, options!, cancellationToken);
            var logger = loggers.CreateLogger(typeof(ObservationsApi));
            string? keyName = user.Identity?.Name;
            Ingested(logger, report.Rows, report.Series, report.DayRows, keyName);
            return TypedResults.Ok(Result(report));
        }
        catch (Exception exception) when (ObservationErrors.IsRefusal(exception))
        {
            // Nothing was written: the transaction rolled back when the exception left the ingest.
            var extensions = new Dictionary<string, object?>();
            if (ObservationErrors.LineOf(exception) is int line)
            {
                extensions[RejectedExtension] = new[] { new RejectedLine(line, ObservationErrors.FieldOf(exception), exception.Message) };
            }
            bool conflict = exception is InvalidOperationException;
            return TypedResults.Problem(exception.Message + " Nothing of the request was written.",
                statusCode: conflict ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest,
                title: conflict ? "Observations conflict with registered series" : "Invalid observations",
                extensions: extensions);
        }
        catch (BadHttpRequestException exception)
        {
            // Kestrel's own refusals while the body streams in: too large (413), too slow or cut off (400).
            return TypedResults.Problem(exception.Message + " Nothing of the request was written.", statusCode: exception.StatusCode,
                title: "Request body refused");
        }
    }

    private static Func<Stream, string, CancellationToken, IAsyncEnumerable<(string Key, ObservationReading Reading)>>? ReaderFor(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            return null;
        }
        if (media.Charset.HasValue && !media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
        {
            // Both readers decode UTF-8 only: another charset would turn keys into other keys, silently.
            return null;
        }
        if (media.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase))
        {
            return ObservationCsv.StreamAsync;
        }
        if (media.MediaType.Equals("application/x-ndjson", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Equals("application/jsonl", StringComparison.OrdinalIgnoreCase))
        {
            return ObservationJsonLines.StreamAsync;
        }
        return null;
    }

    /// <summary>The CLI's options from the query string (step_seconds, aggregate, replace_days, time_zone), or what is wrong.</summary>
    public static (CsvIngestOptions? Options, string? Problem) OptionsFrom(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        foreach (var (name, values) in query)
        {
            if (name is not ("step_seconds" or "aggregate" or "replace_days" or "time_zone"))
            {
                return (null, $"Unknown query option '{name}'; the options are step_seconds, aggregate, replace_days and time_zone.");
            }
            if (values.Count != 1)
            {
                return (null, $"Query option '{name}' is given {values.Count} times.");
            }
        }
        int? step = null;
        if (query.TryGetValue("step_seconds", out var stepText))
        {
            if (!int.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) || parsed <= 0 || 86400 % parsed != 0)
            {
                return (null, $"step_seconds: '{stepText}' is not a step in seconds that divides a day (86400 s).");
            }
            step = parsed;
        }
        var aggregate = ObservationAggregate.Mean;
        if (query.TryGetValue("aggregate", out var aggregateText))
        {
            // Names only: Enum.TryParse would also take "3" or "Mean,Max".
            var names = Enum.GetValues<ObservationAggregate>();
            int found = Array.FindIndex(names, a => string.Equals(a.ToString(), aggregateText, StringComparison.OrdinalIgnoreCase));
            if (found < 0)
            {
                return (null, $"aggregate: '{aggregateText}' is not one of mean, sum, min, max, last, first.");
            }
            aggregate = names[found];
        }
        bool replaceDays = false;
        if (query.TryGetValue("replace_days", out var replaceText) && !bool.TryParse(replaceText, out replaceDays))
        {
            return (null, $"replace_days: '{replaceText}' is not true or false.");
        }
        string? timeZone = null;
        if (query.TryGetValue("time_zone", out var zoneText))
        {
            if (!TimeZoneInfo.TryFindSystemTimeZoneById(zoneText!, out _))
            {
                return (null, $"time_zone: '{zoneText}' is not a time zone id this server knows (IANA, e.g. Europe/Paris).");
            }
            timeZone = zoneText;
        }
        return (new CsvIngestOptions { StepSeconds = step, Aggregate = aggregate, ReplaceDays = replaceDays, TimeZone = timeZone }, null);
    }

    private static IngestResult Result(IngestReport report)
    {
        // Grouped: a request of 100,000 series answers in a few lines, not one per series.
        var steps = report.Steps.GroupBy(s => (s.StepSeconds, s.Source)).OrderBy(g => g.Key.StepSeconds).ThenBy(g => g.Key.Source)
            .Select(g => new StepGroup(g.Key.StepSeconds, g.Key.Source.ToString().ToLowerInvariant(), g.Count())).ToList();
        var onto = report.Steps.Where(s => s.OntoRegisteredStep).Take(100)
            .Select(s => new OntoRegisteredStep(s.SeriesKey, s.StepSeconds, s.InferredStepSeconds)).ToList();
        return new IngestResult(report.Rows, report.Series, report.DayRows, report.AggregatedPoints, steps, onto);
    }

    // 40xx: ingest (4001 here, the staging merge's in AnomalyMeta.Scoring.Ingest.StagingIngest).
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Ingested {Rows} readings into {Series} series ({DayRows} day rows) over HTTP for key {KeyName}")]
    private static partial void Ingested(ILogger logger, int rows, int series, long dayRows, string? keyName);
}
