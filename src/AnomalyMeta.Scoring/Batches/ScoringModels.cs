using AnomalyMeta.Core.Series;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Batches;

/// <summary>
/// The models a run scores with: each cluster's meta-learner of the live clustering (the newest one training has been
/// through; a newer clustering waiting for its models does not score yet), and the generic model of each sampling step,
/// the fallback that lets every series be scored from its second day.
/// </summary>
public sealed class ScoringModels(
    int? liveVersion,
    IReadOnlyDictionary<int, ScoringModel> clusterModels,
    IReadOnlyDictionary<int, ScoringModel> genericModels,
    int? pendingVersion = null,
    IReadOnlyDictionary<int, int>? liveAssignments = null)
{
    public int Count => clusterModels.Count + genericModels.Count;

    /// <summary>The clustering whose assignments pick the cluster models; null before the first training.</summary>
    public int? ClusteringVersion => liveVersion;

    /// <summary>Every model this run may score with (the run ledger records them).</summary>
    public IReadOnlyCollection<int> ModelIds => [.. clusterModels.Values.Concat(genericModels.Values).Select(m => m.ModelId).Distinct()];

    /// <summary>
    /// The model for a series and, when it is not the series' own cluster's in the newest clustering, why (for its
    /// status detail). No model: the status (<see cref="SeriesStatus.NoModel"/> or <see cref="SeriesStatus.TooShort"/>)
    /// and why.
    /// </summary>
    public (ScoringModel? Model, SeriesStatus Status, string? Detail) Choose(SeriesHistory history, ReadOnlySpan<float> window)
    {
        string reason;
        if (window.Length >= history.PointsPerDay && WindowRepair.CountObserved(window[^history.PointsPerDay..]) == 0)
        {
            // Said first: a series whose day has not arrived is late data to score later, whatever its history.
            return (null, SeriesStatus.NoData, "no observation on the scoring day");
        }
        // The series row carries its cluster in the newest clustering; while that one waits for its models, the live
        // clustering's own assignment picks the model.
        int? clusterId = history.ClusterVersion == liveVersion ? history.ClusterId
            : liveAssignments is not null && liveAssignments.TryGetValue(history.SeriesId, out int assigned) ? assigned
            : null;
        string? pending = pendingVersion is int waiting ? $"clustering {waiting} is not live until training has been through all its clusters" : null;
        if (clusterId is not int cluster)
        {
            reason = liveVersion is null ? "no clustering is live yet" : $"not yet in clustering {liveVersion}";
        }
        else if (!clusterModels.TryGetValue(cluster, out var own))
        {
            reason = $"cluster {cluster} of clustering {liveVersion} has no model (too little history to train it)";
        }
        else if (own.PointsPerDay != history.PointsPerDay)
        {
            reason = $"cluster {cluster}'s model is for {86400 / own.PointsPerDay} s steps, the series' step is {history.StepSeconds} s";
        }
        else if (BatchScorer.ObservedInSeason(window, own.SeasonLength, own.PointsPerDay) * 2 < own.SeasonLength)
        {
            // Its own model wants most of its season; the generic one makes do with less while the series is young.
            reason = $"less than half of cluster {cluster}'s season of {own.SeasonLength} points observed";
        }
        else
        {
            return (own, SeriesStatus.Scored, pending is null ? null : $"{own.Name}: {pending}");
        }
        if (pending is not null)
        {
            reason = $"{reason}; {pending}";
        }

        if (!genericModels.TryGetValue(history.StepSeconds, out var generic))
        {
            return (null, SeriesStatus.NoModel, $"{reason}; no meta-learner for step {history.StepSeconds} s: run `anomalymeta train`");
        }
        if (BatchScorer.ObservedInSeason(window, generic.SeasonLength, generic.PointsPerDay) < generic.MinimumObserved)
        {
            return (null, SeriesStatus.TooShort, $"{reason}; fewer than {generic.MinimumObserved} of the {generic.SeasonLength} points before the day observed");
        }
        return (generic, SeriesStatus.Scored, $"{generic.Name}: {reason}");
    }

    /// <summary>Days each window needs: the longest season of any model plus the scoring day, and at least <paramref name="minimum"/>.</summary>
    public int DaysToRead(int minimum)
    {
        int days = minimum;
        foreach (var model in clusterModels.Values.Concat(genericModels.Values))
        {
            days = Math.Max(days, DaysOf(model));
        }
        return days;
    }

    /// <summary>
    /// Days the series of each live cluster need: its model's window, or a generic model's if <see cref="Choose"/> falls
    /// back to one, and at least <paramref name="minimum"/>. A series of a daily cluster then reads 10 days, not the
    /// 30 of the few clusters with a weekly primary season (three weeks of seasonal lags, a week of support, the day).
    /// Null before a clustering is live.
    /// </summary>
    public ClusterWindows? Windows(int minimum)
    {
        if (liveVersion is not int version)
        {
            return null;
        }
        int fallback = minimum;
        foreach (var model in genericModels.Values)
        {
            fallback = Math.Max(fallback, DaysOf(model));
        }
        var days = new Dictionary<int, int>(clusterModels.Count);
        foreach (var (cluster, model) in clusterModels)
        {
            days[cluster] = Math.Max(fallback, DaysOf(model));
        }
        return new ClusterWindows(version, days);
    }

    private static int DaysOf(ScoringModel model) => (model.WindowLength + model.PointsPerDay - 1) / model.PointsPerDay;
}
