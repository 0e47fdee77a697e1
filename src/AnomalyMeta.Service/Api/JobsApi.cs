using System.Security.Claims;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Quartz;

namespace AnomalyMeta.Service.Api;

/// <summary>
/// The maintenance jobs: their ledger (`GET /api/jobs`) and, with an API key, running one now
/// (`POST /api/jobs/{job}/trigger`) instead of waiting for its schedule: the demo loader retrains a fresh stack this
/// way, and an on-call engineer can re-cluster after a large onboarding without a shell on the machine.
/// </summary>
public static class JobsApi
{
    /// <summary>Largest body accepted: a reason.</summary>
    public const int MaxBodyBytes = 2048;

    public sealed record TriggerBody(string? Reason);

    /// <summary>The answer to a trigger: the ledger line of this execution has <see cref="Trigger"/> in its triggered_by.</summary>
    public sealed record TriggerAccepted(string Job, string Trigger);

    /// <summary>The jobs that can be run on demand, by the name the URL uses (their Quartz job names).</summary>
    public static readonly IReadOnlyDictionary<string, JobKey> Triggerable = new Dictionary<string, JobKey>(StringComparer.Ordinal)
    {
        [AssignNewSeriesJob.Key.Name] = AssignNewSeriesJob.Key,
        [RetrainJob.Key.Name] = RetrainJob.Key,
        [DriftCheckJob.Key.Name] = DriftCheckJob.Key,
    };

    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/api/jobs");
        jobs.MapGet("/", async (JobRuns ledger, CancellationToken cancellationToken, int limit = 50) =>
            TypedResults.Ok(await ledger.RecentAsync(Math.Clamp(limit, 1, 500), cancellationToken)));
        jobs.MapPost("/{job}/trigger", TriggerAsync).RequireAuthorization().RequireRateLimiting(RunsApi.MutatingPolicy);
        return app;
    }

    private static async Task<Results<Accepted<TriggerAccepted>, ProblemHttpResult>> TriggerAsync(string job, HttpRequest http, ClaimsPrincipal user,
        ISchedulerFactory schedulers, CancellationToken cancellationToken)
    {
        if (!Triggerable.TryGetValue(job, out var key))
        {
            return TypedResults.Problem($"There is no job '{job}'; the jobs are {string.Join(", ", Triggerable.Keys)}.", statusCode: 404, title: "No such job");
        }
        var (body, invalid) = await StrictJsonBody.ReadAsync<TriggerBody>(http, MaxBodyBytes, "trigger request", cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }
        if (RequestReason.Problem(body!.Reason, "the job ledger's line") is string problem)
        {
            return TypedResults.Problem(problem, statusCode: 400, title: "Invalid trigger request");
        }

        // A trigger of our own naming, so the caller can find this execution in the ledger. The job runs on whichever
        // instance of the cluster picks it up; [DisallowConcurrentExecution] queues it behind a running one.
        string name = $"manual-{Guid.NewGuid():N}";
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var trigger = TriggerBuilder.Create()
            .WithIdentity(name, "anomalymeta-manual")
            .ForJob(key)
            .UsingJobData(MaintenanceRun.RequestedByKey, $"apikey:{user.Identity!.Name}: {body.Reason}")
            .StartNow()
            .Build();
        await scheduler.ScheduleJob(trigger, default, cancellationToken);
        return TypedResults.Accepted($"/api/jobs?trigger={name}", new TriggerAccepted(job, name));
    }
}
