using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Microsoft.AspNetCore.Http.HttpResults;
using Quartz;

namespace AnomalyMeta.Service.Api;

/// <summary>The on-call engineer's endpoints: trigger a rescore of a day (with an API key), follow it, read the run ledger.</summary>
public static class RunsApi
{
    /// <summary>Largest rescore body accepted; a reason is a sentence, not a document.</summary>
    public const int MaxBodyBytes = 4096;

    /// <summary>Longest reason accepted, in characters.</summary>
    public const int MaxReasonLength = 500;

    /// <summary>The rate limiter policy of the mutating endpoints.</summary>
    public const string MutatingPolicy = "mutating";

    /// <summary>
    /// The rescore request. Who asks is the API key's name, not a field: a client cannot write someone else's name
    /// into the ledger. <paramref name="AsOf"/> is nullable so that a missing date is an error, not 0001-01-01.
    /// <paramref name="Series"/>, <paramref name="Tags"/> and <paramref name="Cluster"/> narrow the rescore (each given
    /// part must hold, see <see cref="RunScope"/>); none of them rescores every series.
    /// </summary>
    public sealed record RescoreBody(DateOnly? AsOf, string? Reason, IReadOnlyList<string>? Series = null,
        IReadOnlyDictionary<string, string>? Tags = null, int? Cluster = null)
    {
        public RunScope ToScope() => new(Series, Tags, Cluster);
    }

    private static readonly JsonSerializerOptions BodyJson = new(JsonSerializerDefaults.Web)
    {
        // A field the endpoint does not know ("triggeredBy", a typo of "asOf") is an error, not silently dropped.
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/api/runs");
        runs.MapPost("/rescore", RescoreAsync)
            .RequireAuthorization()
            .RequireRateLimiting(MutatingPolicy);
        runs.MapGet("/", ListAsync);
        runs.MapGet("/{runId:long}", GetAsync);
        return app;
    }

    private static async Task<Results<Accepted<RunLine>, ProblemHttpResult>> RescoreAsync(
        HttpRequest http, ClaimsPrincipal user, RunLedger ledger, AnomalyQueries queries, ISchedulerFactory schedulers, CancellationToken cancellationToken)
    {
        // Read at most one byte past the limit, whatever Content-Length says (or does not say, when chunked).
        var buffer = new byte[MaxBodyBytes + 1];
        int length = 0;
        for (int read; length < buffer.Length && (read = await http.Body.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0;)
        {
            length += read;
        }
        if (length > MaxBodyBytes)
        {
            return TypedResults.Problem($"The body is larger than {MaxBodyBytes} bytes.", statusCode: 413, title: "Request too large");
        }
        RescoreBody? body;
        try
        {
            body = JsonSerializer.Deserialize<RescoreBody>(buffer.AsSpan(0, length), BodyJson);
        }
        catch (JsonException exception)
        {
            return TypedResults.Problem($"The body is not a rescore request: {exception.Message}", statusCode: 400, title: "Invalid rescore request");
        }
        string? problem = body is null ? "The body is empty: send {\"asOf\": \"yyyy-MM-dd\", \"reason\": \"...\"}." : Problem(body);
        if (problem is not null)
        {
            return TypedResults.Problem(problem, statusCode: 400, title: "Invalid rescore request");
        }
        var scope = body!.ToScope();
        if (!scope.IsWholeFleet)
        {
            // Refused now, naming the unknown series, rather than accepted and failed later by the job.
            try
            {
                await ledger.Scopes.ResolveAsync(scope, cancellationToken);
            }
            catch (ScopeException exception)
            {
                return TypedResults.Problem(exception.Message, statusCode: 400, title: "Invalid rescore scope");
            }
        }
        string triggeredBy = $"apikey:{user.Identity!.Name}";
        // In the ledger from the moment it is accepted: if the scheduler never runs it, the row says so.
        var queued = await ledger.QueueAsync(body.AsOf!.Value, triggeredBy, body.Reason, scope.IsWholeFleet ? null : scope, cancellationToken);
        var request = new ScoringRequest(RunKind.Rescore, body.AsOf.Value, triggeredBy, body.Reason, queued.RunId);
        try
        {
            var scheduler = await schedulers.GetScheduler(cancellationToken);
            await scheduler.TriggerJob(MorningScoringJob.Key, MorningScoringJob.DataFor(request), cancellationToken);
        }
        catch (Exception exception)
        {
            await ledger.FinishAsync(queued.RunId, RunStatus.Failed, $"the scheduler did not accept the job: {exception.Message}", CancellationToken.None);
            throw;
        }
        var line = await queries.RunAsync(queued.RunId, cancellationToken);
        return TypedResults.Accepted($"/api/runs/{queued.RunId.ToString(CultureInfo.InvariantCulture)}", line!);
    }

    /// <summary>What is wrong with a rescore request, or null when it can be queued.</summary>
    public static string? Problem(RescoreBody body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (body.AsOf is not DateOnly asOf || asOf.Year < 1900 || asOf.Year > 2199)
        {
            return $"A rescore needs 'asOf', the day to rescore (yyyy-MM-dd, 1900 to 2199); found '{body.AsOf?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) ?? "nothing"}'.";
        }
        if (string.IsNullOrWhiteSpace(body.Reason))
        {
            return "A rescore needs a 'reason': it goes to the run ledger.";
        }
        if (body.Reason.Length > MaxReasonLength)
        {
            return $"'reason' has {body.Reason.Length} characters; at most {MaxReasonLength} are kept in the ledger.";
        }
        if (body.Reason.Any(char.IsControl))
        {
            return "'reason' holds control characters.";
        }
        return body.ToScope().Problem();
    }

    private static async Task<Ok<IReadOnlyList<RunLine>>> ListAsync(AnomalyQueries queries, CancellationToken cancellationToken, int limit = 20)
    {
        return TypedResults.Ok(await queries.RecentRunsAsync(Math.Clamp(limit, 1, 500), cancellationToken));
    }

    private static async Task<Results<Ok<RunLine>, ProblemHttpResult>> GetAsync(long runId, AnomalyQueries queries, CancellationToken cancellationToken)
    {
        return await queries.RunAsync(runId, cancellationToken) is RunLine run
            ? TypedResults.Ok(run)
            : TypedResults.Problem($"There is no run {runId}.", statusCode: 404, title: "No such run");
    }
}
