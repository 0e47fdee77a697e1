using AnomalyMeta.Core.Series;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Batches;

/// <summary>
/// The models a run scores with: each cluster's meta-learner of the latest clustering; while a new clustering's models
/// are not all trained, the previous clustering's models for the series they were trained for; and the generic model
/// of each sampling step, the fallback that lets every series be scored from its second day.
/// </summary>
public sealed class ScoringModels(
    int? clusterVersion,
    IReadOnlyDictionary<int, ScoringModel> clusterModels,
    IReadOnlyDictionary<int, ScoringModel> genericModels,
    IReadOnlyDictionary<int, ScoringModel>? previousModels = null,
    IReadOnlyDictionary<int, int>? previousAssignments = null)
{
    public int Count => clusterModels.Count + genericModels.Count + (previousModels?.Count ?? 0);

    /// <summary>The clustering whose assignments pick the cluster models; null before the first clustering.</summary>
    public int? ClusteringVersion => clusterVersion;

    /// <summary>Every model this run may score with (the run ledger records them).</summary>
    public IReadOnlyCollection<int> ModelIds =>
        [.. clusterModels.Values.Concat(genericModels.Values).Concat(previousModels?.Values ?? []).Select(m => m.ModelId).Distinct()];

    /// <summary>
    /// The model for a series and, when it is not the series' own cluster's, why (for its status detail). No model:
    /// the status (<see cref="SeriesStatus.NoModel"/> or <see cref="SeriesStatus.TooShort"/>) and why.
    /// </summary>
    public (ScoringModel? Model, SeriesStatus Status, string? Detail) Choose(SeriesHistory history, ReadOnlySpan<float> window)
    {
        string reason;
        if (window.Length >= history.PointsPerDay && WindowRepair.CountObserved(window[^history.PointsPerDay..]) == 0)
        {
            // Said first: a series whose day has not arrived is late data to score later, whatever its history.
            return (null, SeriesStatus.NoData, "no observation on the scoring day");
        }
        if (history.ClusterId is not int clusterId || history.ClusterVersion != clusterVersion)
        {
            reason = clusterVersion is null ? "no clustering yet" : $"not yet in clustering {clusterVersion}";
        }
        else if (!clusterModels.TryGetValue(clusterId, out var own))
        {
            reason = $"cluster {clusterId} of clustering {clusterVersion} has no model yet";
        }
        else if (own.PointsPerDay != history.PointsPerDay)
        {
            reason = $"cluster {clusterId}'s model is for {86400 / own.PointsPerDay} s steps, the series' step is {history.StepSeconds} s";
        }
        else if (BatchScorer.ObservedInSeason(window, own.SeasonLength, own.PointsPerDay) * 2 < own.SeasonLength)
        {
            // Its own model wants most of its season; the generic one makes do with less while the series is young.
            reason = $"less than half of cluster {clusterId}'s season of {own.SeasonLength} points observed";
        }
        else
        {
            return (own, SeriesStatus.Scored, null);
        }

        if (previousAssignments is not null && previousModels is not null
            && previousAssignments.TryGetValue(history.SeriesId, out int previousCluster)
            && previousModels.TryGetValue(previousCluster, out var previous)
            && previous.PointsPerDay == history.PointsPerDay
            && BatchScorer.ObservedInSeason(window, previous.SeasonLength, previous.PointsPerDay) * 2 >= previous.SeasonLength)
        {
            return (previous, SeriesStatus.Scored, $"{previous.Name}: {reason}");
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
        foreach (var model in clusterModels.Values.Concat(genericModels.Values).Concat(previousModels?.Values ?? []))
        {
            days = Math.Max(days, (model.WindowLength + model.PointsPerDay - 1) / model.PointsPerDay);
        }
        return days;
    }
}
