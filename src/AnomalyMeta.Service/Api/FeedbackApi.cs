using System.Globalization;
using System.Security.Claims;
using AnomalyMeta.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnomalyMeta.Service.Api;

/// <summary>
/// What people say about flags: a verdict on a flag (false positive or confirmed) and mutes of a series or a time range
/// of it. Writing needs an API key (who is recorded as <c>apikey:NAME</c>); bodies are strict like the rescore's.
/// </summary>
public static class FeedbackApi
{
    /// <summary>Largest body accepted: a note is a few sentences.</summary>
    public const int MaxBodyBytes = 4096;

    /// <summary>The rate limiter policy of feedback and mutes: people going through a day's flags one by one.</summary>
    public const string FeedbackPolicy = "feedback";

    /// <summary>A verdict on the flag of <paramref name="Series"/> at <paramref name="Ts"/> (of <paramref name="AsOf"/> when given).</summary>
    public sealed record FeedbackBody(string? Series, DateTimeOffset? Ts, string? Verdict, string? Note = null, DateOnly? AsOf = null);

    /// <summary>A mute of <paramref name="Series"/>, whole or over [<paramref name="From"/>, <paramref name="To"/>).</summary>
    public sealed record MuteBody(string? Series, string? Reason, DateTimeOffset? From = null, DateTimeOffset? To = null);

    public static IEndpointRouteBuilder MapFeedbackApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/anomalies/feedback", FeedbackAsync)
            .RequireAuthorization()
            .RequireRateLimiting(FeedbackPolicy);
        var mutes = app.MapGroup("/api/mutes");
        mutes.MapPost("/", MuteAsync)
            .RequireAuthorization()
            .RequireRateLimiting(FeedbackPolicy);
        mutes.MapDelete("/{muteId:long}", LiftAsync)
            .RequireAuthorization()
            .RequireRateLimiting(FeedbackPolicy);
        mutes.MapGet("/", ListAsync);
        return app;
    }

    private static async Task<Results<Ok<FeedbackLine>, ProblemHttpResult>> FeedbackAsync(HttpRequest http, ClaimsPrincipal user, FeedbackStore feedback,
        CancellationToken cancellationToken)
    {
        var (body, invalid) = await StrictJsonBody.ReadAsync<FeedbackBody>(http, MaxBodyBytes, "feedback", cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }
        Verdict? verdict = body!.Verdict switch
        {
            "false_positive" => Verdict.FalsePositive,
            "confirmed" => Verdict.Confirmed,
            _ => null,
        };
        string? problem = string.IsNullOrEmpty(body.Series) ? "Feedback needs 'series', the flagged series' key."
            : body.Ts is null ? "Feedback needs 'ts', the flagged point's time (ISO 8601)."
            : verdict is null ? $"'verdict' is 'false_positive' or 'confirmed'; found '{body.Verdict ?? "nothing"}'."
            : body.Note is { Length: > FeedbackStore.MaxNoteLength } ? $"'note' has {body.Note.Length} characters; at most {FeedbackStore.MaxNoteLength} are kept."
            : null;
        if (problem is not null)
        {
            return TypedResults.Problem(problem, statusCode: 400, title: "Invalid feedback");
        }
        try
        {
            return TypedResults.Ok(await feedback.RecordAsync(body.Series!, body.Ts!.Value, body.AsOf, verdict!.Value, body.Note,
                $"apikey:{user.Identity!.Name}", cancellationToken));
        }
        catch (NotFoundException exception)
        {
            return TypedResults.Problem(exception.Message, statusCode: 404, title: "No such flag");
        }
    }

    private static async Task<Results<Created<MuteLine>, ProblemHttpResult>> MuteAsync(HttpRequest http, ClaimsPrincipal user, MuteStore mutes,
        CancellationToken cancellationToken)
    {
        var (body, invalid) = await StrictJsonBody.ReadAsync<MuteBody>(http, MaxBodyBytes, "mute", cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }
        string? problem = string.IsNullOrEmpty(body!.Series) ? "A mute needs 'series', the series' key." : MuteStore.Problem(body.From, body.To, body.Reason);
        if (problem is not null)
        {
            return TypedResults.Problem(problem, statusCode: 400, title: "Invalid mute");
        }
        try
        {
            var line = await mutes.MuteAsync(body.Series!, body.From, body.To, body.Reason!, $"apikey:{user.Identity!.Name}", cancellationToken);
            return TypedResults.Created($"/api/mutes/{line.MuteId.ToString(CultureInfo.InvariantCulture)}", line);
        }
        catch (NotFoundException exception)
        {
            return TypedResults.Problem(exception.Message, statusCode: 404, title: "No such series");
        }
    }

    private static async Task<Results<Ok<MuteLine>, ProblemHttpResult>> LiftAsync(long muteId, MuteStore mutes, CancellationToken cancellationToken)
    {
        try
        {
            return TypedResults.Ok(await mutes.LiftAsync(muteId, cancellationToken));
        }
        catch (NotFoundException exception)
        {
            return TypedResults.Problem(exception.Message, statusCode: 404, title: "No such mute");
        }
    }

    private static async Task<Ok<IReadOnlyList<MuteLine>>> ListAsync(MuteStore mutes, CancellationToken cancellationToken) =>
        TypedResults.Ok(await mutes.ListAsync(cancellationToken));
}
