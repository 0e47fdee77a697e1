using System.Security.Claims;
using AnomalyMeta.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnomalyMeta.Service.Api;

/// <summary>
/// The model lifecycle for operators: which clustering is live and which model scores each cluster (`GET /api/models`),
/// and, with an API key, pinning a model, rolling a cluster back to its
/// previous model, or removing a pin.
/// </summary>
public static class ModelsApi
{
    /// <summary>Largest body accepted: a reason and two numbers.</summary>
    public const int MaxBodyBytes = 2048;

    public sealed record PinBody(string? Reason);

    public sealed record RollbackBody(int? Clustering, int? Cluster, string? Reason);

    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/api/models");
        models.MapGet("/", async (ModelLifecycle lifecycle, CancellationToken cancellationToken, bool all = false) =>
            TypedResults.Ok(await lifecycle.ListAsync(all, cancellationToken)));
        models.MapPost("/{modelId:int}/pin", PinAsync).RequireAuthorization().RequireRateLimiting(RunsApi.MutatingPolicy);
        models.MapPost("/rollback", RollBackAsync).RequireAuthorization().RequireRateLimiting(RunsApi.MutatingPolicy);
        models.MapDelete("/pins/{clustering:int}/{cluster:int}", UnpinAsync).RequireAuthorization().RequireRateLimiting(RunsApi.MutatingPolicy);
        return app;
    }

    private static async Task<Results<Ok<ModelLine>, ProblemHttpResult>> PinAsync(int modelId, HttpRequest http, ClaimsPrincipal user,
        ModelLifecycle lifecycle, CancellationToken cancellationToken)
    {
        var (body, invalid) = await StrictJsonBody.ReadAsync<PinBody>(http, MaxBodyBytes, "pin request", cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }
        if (RequestReason.Problem(body!.Reason, "the pin") is string problem)
        {
            return TypedResults.Problem(problem, statusCode: 400, title: "Invalid pin request");
        }
        try
        {
            return TypedResults.Ok(await lifecycle.PinAsync(modelId, $"apikey:{user.Identity!.Name}", body!.Reason!, cancellationToken));
        }
        catch (KeyNotFoundException exception)
        {
            return TypedResults.Problem(exception.Message, statusCode: 404, title: "No such model");
        }
    }

    private static async Task<Results<Ok<ModelLine>, ProblemHttpResult>> RollBackAsync(HttpRequest http, ClaimsPrincipal user,
        ModelLifecycle lifecycle, CancellationToken cancellationToken)
    {
        var (body, invalid) = await StrictJsonBody.ReadAsync<RollbackBody>(http, MaxBodyBytes, "rollback request", cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }
        if ((body!.Clustering is null || body.Cluster is null ? "A rollback needs 'clustering' and 'cluster'." : RequestReason.Problem(body.Reason, "the rollback's pin")) is string problem)
        {
            return TypedResults.Problem(problem, statusCode: 400, title: "Invalid rollback request");
        }
        try
        {
            return TypedResults.Ok(await lifecycle.RollBackAsync(body!.Clustering!.Value, body.Cluster!.Value, $"apikey:{user.Identity!.Name}", body.Reason!, cancellationToken));
        }
        catch (KeyNotFoundException exception)
        {
            return TypedResults.Problem(exception.Message, statusCode: 404, title: "No such cluster model");
        }
        catch (InvalidOperationException exception)
        {
            return TypedResults.Problem(exception.Message, statusCode: 409, title: "Nothing to roll back to");
        }
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> UnpinAsync(int clustering, int cluster, ModelLifecycle lifecycle, CancellationToken cancellationToken) =>
        await lifecycle.UnpinAsync(clustering, cluster, cancellationToken)
            ? TypedResults.NoContent()
            : TypedResults.Problem($"Cluster {cluster} of clustering {clustering} has no pin.", statusCode: 404, title: "No such pin");
}
