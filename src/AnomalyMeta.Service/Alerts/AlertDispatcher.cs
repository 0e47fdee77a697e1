using System.Globalization;
using System.Text.Json;
using AnomalyMeta.Storage;

namespace AnomalyMeta.Service.Alerts;

/// <summary>What one delivery pass did: routes delivered, settled with nothing to send, and failed (retried next pass).</summary>
public sealed record AlertPass(int Delivered, int Empty, int Failed);

/// <summary>
/// One delivery pass: for every run that succeeded within <see cref="AlertOptions.CatchUpHours"/>, every route its
/// current finish still owes gets one post with the run's new flags that match it, and the ledger
/// (<c>alert_delivery</c>) records how it ended. A route with no matching flag gets no post: its row says "empty", so
/// a webhook is only ever woken up for something to look at. Deliveries are at least once: a process that dies between
/// a post and its row posts again (with the same Idempotency-Key).
/// </summary>
public sealed partial class AlertDispatcher(AlertDeliveries deliveries, AlertOptions options, AlertWebhook webhook, TimeProvider clock,
    ILogger<AlertDispatcher> logger)
{
    public async Task<AlertPass> DeliverOwedAsync(CancellationToken cancellationToken)
    {
        if (options.Routes.Count == 0)
        {
            return new AlertPass(0, 0, 0);
        }
        var runs = await deliveries.SucceededSinceAsync(clock.GetUtcNow() - TimeSpan.FromHours(options.CatchUpHours), cancellationToken);
        if (runs.Count == 0)
        {
            return new AlertPass(0, 0, 0);
        }
        var settled = await deliveries.SettledAsync(runs, cancellationToken);
        int delivered = 0, empty = 0, failed = 0;
        foreach (var run in runs)
        {
            foreach (var route in options.Routes)
            {
                if (settled.Contains((run.RunId, route.Name)))
                {
                    continue;
                }
                switch (await DeliverAsync(run, route, cancellationToken))
                {
                    case AlertOutcome.Delivered:
                        delivered++;
                        break;
                    case AlertOutcome.Empty:
                        empty++;
                        break;
                    default:
                        failed++;
                        break;
                }
            }
        }
        return new AlertPass(delivered, empty, failed);
    }

    private async Task<AlertOutcome> DeliverAsync(AlertableRun run, AlertRoute route, CancellationToken cancellationToken)
    {
        string? tags = route.Tags.Count == 0 ? null : JsonSerializer.Serialize(route.Tags);
        var flags = await deliveries.FlagsAsync(run.RunId, route.Name, tags, route.MinScore, cancellationToken);
        if (flags.Count == 0)
        {
            await deliveries.RecordAsync(new AlertDelivery(run.RunId, route.Name, run.FinishedAt, AlertOutcome.Empty, 0, null, 0, [], null, null),
                cancellationToken);
            NothingToSend(logger, run.RunId, route.Name);
            return AlertOutcome.Empty;
        }
        var payload = new AlertPayload(run.RunId, run.Kind, run.AsOf, run.Reason, route.Name, flags.Count, [.. flags.Select(ToAnomaly)]);
        string deliveryId = string.Create(CultureInfo.InvariantCulture, $"run-{run.RunId}/{route.Name}/{run.FinishedAt:yyyyMMddTHHmmss.ffffff}");
        var result = await webhook.PostAsync(new Uri(route.Url), payload, deliveryId, cancellationToken);
        int[] seriesIds = [.. flags.Select(f => f.SeriesId).Distinct()];
        // A pass stopped by shutdown after the post still writes its row: the post happened, whatever the token says.
        await deliveries.RecordAsync(new AlertDelivery(run.RunId, route.Name, run.FinishedAt,
            result.Delivered ? AlertOutcome.Delivered : AlertOutcome.Failed, result.Attempts, result.StatusCode, flags.Count, seriesIds,
            result.Delivered ? clock.GetUtcNow().UtcDateTime : null, result.Error), CancellationToken.None);
        if (result.Delivered)
        {
            Delivered(logger, run.RunId, route.Name, flags.Count, result.Attempts);
            return AlertOutcome.Delivered;
        }
        NotDelivered(logger, run.RunId, route.Name, result.Attempts, result.Error!);
        return AlertOutcome.Failed;
    }

    private static AlertedAnomaly ToAnomaly(AlertFlag flag)
    {
        using var tags = JsonDocument.Parse(flag.TagsJson);
        return new AlertedAnomaly(flag.SeriesKey, DateTime.SpecifyKind(flag.Ts, DateTimeKind.Utc), flag.Value, flag.Forecast,
            new AlertBand(flag.LowerBand, flag.UpperBand), flag.Score, tags.RootElement.Clone());
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Run {RunId}: {FlagCount} flags posted to alert route {Route} in {Attempts} attempts")]
    private static partial void Delivered(ILogger logger, long runId, string route, int flagCount, int attempts);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning,
        Message = "Run {RunId}: alert route {Route} not delivered after {Attempts} attempts ({Error}); the next pass tries again")]
    private static partial void NotDelivered(ILogger logger, long runId, string route, int attempts, string error);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Run {RunId}: no new flag for alert route {Route}, nothing posted")]
    private static partial void NothingToSend(ILogger logger, long runId, string route);
}
