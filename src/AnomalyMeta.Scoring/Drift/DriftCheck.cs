using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Storage;
using Microsoft.Extensions.Logging;

namespace AnomalyMeta.Scoring.Drift;

/// <summary>How the drift check judges a cluster.</summary>
public sealed class DriftOptions
{
    public const string Section = "Drift";

    /// <summary>Scored days after a model went live that give its reference error.</summary>
    public int BaselineDays { get; set; } = 3;

    /// <summary>The latest scored days compared with the reference.</summary>
    public int RecentDays { get; set; } = 2;

    /// <summary>A cluster whose recent error is above this many times its reference is retrained early.</summary>
    public double Ratio { get; set; } = 1.5;

    public IEnumerable<string> Problems()
    {
        if (BaselineDays < 1 || RecentDays < 1 || !(Ratio > 1))
        {
            yield return $"Drift: BaselineDays and RecentDays must be at least 1 and Ratio above 1; found {BaselineDays}, {RecentDays}, {Ratio}.";
        }
    }
}

/// <summary>One cluster as the drift check saw it: its reference and recent error, and what it decided.</summary>
public sealed record ClusterDrift(int ClusterId, int ModelId, int DaysScored, double? Baseline, double? Recent, double? Ratio, bool Retrained, string Reason);

/// <summary>What a drift check found and did.</summary>
public sealed record DriftReport(int? Clustering, IReadOnlyList<ClusterDrift> Clusters, TrainingReport? Retraining);

/// <summary>
/// Per cluster of the live clustering: the scoring model's out-of-sample error on its first scored days (the
/// reference, when it went live) against its latest days (<see cref="DriftQueries"/>). A cluster past the ratio is
/// retrained at once (a new model version for it alone; the others keep theirs), and the reason is logged and kept.
/// </summary>
public sealed class DriftCheck(ClusteringStore clusterings, DriftQueries drift, MetaTrainingStep training, ILogger<DriftCheck> logger)
{
    public async Task<DriftReport> RunAsync(DateOnly lastHistoryDay, DriftOptions options, TrainingOptions trainingOptions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var live = await clusterings.LoadLiveAsync(cancellationToken);
        if (live is null)
        {
            return new DriftReport(null, [], null);
        }
        var errors = await drift.ClusterDayErrorsAsync(live.Version, cancellationToken);
        var clusters = new List<ClusterDrift>();
        foreach (var days in errors.GroupBy(e => (e.ClusterId, e.ModelId)))
        {
            var ordered = days.OrderBy(d => d.AsOf).ToList();
            if (ordered.Count < options.BaselineDays + options.RecentDays)
            {
                clusters.Add(new ClusterDrift(days.Key.ClusterId, days.Key.ModelId, ordered.Count, null, null, null, false,
                    $"{ordered.Count} scored days since its model went live; the check needs {options.BaselineDays + options.RecentDays}"));
                continue;
            }
            double baseline = ordered.Take(options.BaselineDays).Average(d => d.Error);
            double recent = ordered.TakeLast(options.RecentDays).Average(d => d.Error);
            double ratio = recent / Math.Max(baseline, 1e-6);
            bool drifted = ratio > options.Ratio;
            string reason = drifted
                ? $"recent error {recent:F3} over its last {options.RecentDays} days is {ratio:F2}x the {baseline:F3} of its first {options.BaselineDays} (limit {options.Ratio:F2}x): retrained"
                : $"recent error {recent:F3} is {ratio:F2}x the reference {baseline:F3} (limit {options.Ratio:F2}x)";
            if (drifted)
            {
                logger.ClusterDrifted(live.Version, days.Key.ClusterId, reason);
            }
            clusters.Add(new ClusterDrift(days.Key.ClusterId, days.Key.ModelId, ordered.Count, baseline, recent, ratio, drifted, reason));
        }
        var drifting = clusters.Where(c => c.Retrained).Select(c => c.ClusterId).ToHashSet();
        var retraining = drifting.Count == 0 ? null : await training.TrainAsync(lastHistoryDay, trainingOptions, drifting, cancellationToken);
        return new DriftReport(live.Version, clusters, retraining);
    }
}
