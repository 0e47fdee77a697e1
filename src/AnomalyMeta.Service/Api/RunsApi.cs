using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Microsoft.AspNetCore.Http.HttpResults;
using Quartz;

namespace AnomalyMeta.Service.Api;

/// <summary>The on-call engineer's endpoints: trigger a rescore of a day, read the run ledger.</summary>
public static class RunsApi
{
    /// <summary>The rescore request; <paramref name="AsOf"/> is nullable so that a missing date is an error, not 0001-01-01.</summary>
    public sealed record RescoreBody(DateOnly? AsOf, string TriggeredBy, string Reason);

    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/api/runs");
        runs.MapPost("/rescore", RescoreAsync);
        runs.MapGet("/", ListAsync);
        return app;
    }

    private static async Task<Results<Accepted<ScoringRequest>, ProblemHttpResult>> RescoreAsync(
        RescoreBody body, ISchedulerFactory schedulers, CancellationToken cancellationToken)
    {
        if (Problem(body) is string problem)
        {
            return TypedResults.Problem(problem, statusCode: 400);
        }
        var request = new ScoringRequest(RunKind.Rescore, body.AsOf!.Value, body.TriggeredBy, body.Reason);
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        await scheduler.TriggerJob(MorningScoringJob.Key, MorningScoringJob.DataFor(request), cancellationToken);
        return TypedResults.Accepted("/api/runs", request);
    }

    /// <summary>What is wrong with a rescore request, or null when it can be queued.</summary>
    public static string? Problem(RescoreBody body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (string.IsNullOrWhiteSpace(body.TriggeredBy) || string.IsNullOrWhiteSpace(body.Reason))
        {
            return "A rescore needs 'triggeredBy' and 'reason': both go to the run ledger.";
        }
        if (body.AsOf is not DateOnly asOf || asOf.Year < 1900 || asOf.Year > 2199)
        {
            return $"A rescore needs 'asOf', the day to rescore (yyyy-MM-dd, 1900 to 2199); found '{body.AsOf?.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) ?? "nothing"}'.";
        }
        return null;
    }

    private static async Task<Ok<IReadOnlyList<RunLine>>> ListAsync(AnomalyQueries queries, CancellationToken cancellationToken, int limit = 20)
    {
        return TypedResults.Ok(await queries.RecentRunsAsync(Math.Clamp(limit, 1, 500), cancellationToken));
    }
}
