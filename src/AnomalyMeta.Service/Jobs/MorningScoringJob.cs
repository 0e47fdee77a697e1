using System.Globalization;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Storage.Records;
using Quartz;

namespace AnomalyMeta.Service.Jobs;

/// <summary>
/// The morning job: scores every series for one day. Thin on purpose: it reads what to score from the trigger's
/// data (nothing for the cron trigger: yesterday, nightly) and hands over to <see cref="MorningScoring"/>.
/// Never two at once: a rescore waits for the nightly run, and the other way round.
/// </summary>
[DisallowConcurrentExecution]
public sealed class MorningScoringJob(MorningScoring scoring, TimeProvider clock) : IJob
{
    public static readonly JobKey Key = new("morning-scoring", "anomalymeta");

    public const string AsOfKey = "as_of";
    public const string KindKey = "kind";
    public const string TriggeredByKey = "triggered_by";
    public const string ReasonKey = "reason";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var data = context.MergedJobDataMap;
        string? Read(string key) => data.TryGetValue(key, out object? value) && value is string text && text.Length > 0 ? text : null;
        var request = new ScoringRequest(
            Read(KindKey) == "rescore" ? RunKind.Rescore : RunKind.Nightly,
            Read(AsOfKey) is string asOf
                ? DateOnly.ParseExact(asOf, "yyyy-MM-dd", CultureInfo.InvariantCulture)
                : DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime).AddDays(-1),
            Read(TriggeredByKey) ?? $"quartz:{context.Trigger.Key.Name}",
            Read(ReasonKey));
        var summary = await scoring.RunAsync(request, cancellationToken);
        context.Result = summary;
    }

    /// <summary>Job data for an on-demand run (rescore or a nightly run started by hand).</summary>
    public static JobDataMap DataFor(ScoringRequest request) => new()
    {
        [AsOfKey] = request.AsOf.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        [KindKey] = request.Kind == RunKind.Rescore ? "rescore" : "nightly",
        [TriggeredByKey] = request.TriggeredBy,
        [ReasonKey] = request.Reason ?? "",
    };
}
