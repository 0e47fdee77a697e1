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
    public sealed record RescoreBody(DateOnly AsOf, string TriggeredBy, string Reason);

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
        if (string.IsNullOrWhiteSpace(body.TriggeredBy) || string.IsNullOrWhiteSpace(body.Reason))
        {
            return TypedResults.Problem("A rescore needs 'triggeredBy' and 'reason': both go to the run ledger.", statusCode: 400);
        }
        var request = new ScoringRequest(RunKind.Rescore, body.AsOf, body.TriggeredBy, body.Reason);
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        await scheduler.TriggerJob(MorningScoringJob.Key, MorningScoringJob.DataFor(request), cancellationToken);
        return TypedResults.Accepted("/api/runs", request);
    }

    private static async Task<Ok<IReadOnlyList<RunLine>>> ListAsync(AnomalyQueries queries, CancellationToken cancellationToken, int limit = 20)
    {
        return TypedResults.Ok(await queries.RecentRunsAsync(Math.Clamp(limit, 1, 500), cancellationToken));
    }
}
