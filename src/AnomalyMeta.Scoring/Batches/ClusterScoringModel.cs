using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Learning;

namespace AnomalyMeta.Scoring.Batches;

/// <summary>What scoring needs of one cluster: its meta-learner on the fast adapter, and the shape of its tasks.</summary>
public sealed class ClusterScoringModel(int clusterId, FastAdapter adapter, int primaryPeriod, int secondaryPeriod, int pointsPerDay, int adaptationSteps)
{
    public int ClusterId { get; } = clusterId;
    public FastAdapter Adapter { get; } = adapter;
    public int PrimaryPeriod { get; } = primaryPeriod;
    public int PointsPerDay { get; } = pointsPerDay;
    public int AdaptationSteps { get; } = adaptationSteps;

    /// <summary>K: the support window, one season of points.</summary>
    public int SeasonLength { get; } = SeasonalTask.SeasonLength(primaryPeriod, secondaryPeriod, pointsPerDay);
}
