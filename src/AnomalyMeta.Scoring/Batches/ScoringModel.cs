using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Learning;

namespace AnomalyMeta.Scoring.Batches;

/// <summary>
/// What scoring needs of one meta-learner (a cluster's, or the generic model of a sampling step): its parameters on
/// the fast adapter and the shape of its tasks.
/// </summary>
public sealed class ScoringModel(int modelId, string name, FastAdapter adapter, int primaryPeriod, int seasonLength, int pointsPerDay, int adaptationSteps)
{
    /// <summary>Fewest points a support window holds: a short period is repeated until its season has this many.</summary>
    public const int MinimumSupport = 48;

    public int ModelId { get; } = modelId;

    /// <summary>For status details: "cluster 3 of clustering 2", "generic model of step 300 s".</summary>
    public string Name { get; } = name;

    public FastAdapter Adapter { get; } = adapter;

    public int PrimaryPeriod { get; } = primaryPeriod;

    public int PointsPerDay { get; } = pointsPerDay;

    public int AdaptationSteps { get; } = adaptationSteps;

    /// <summary>K: the support window, a whole number of seasons.</summary>
    public int SeasonLength { get; } = seasonLength;

    /// <summary>How far back the seasonal inputs look: the primary period, or a day.</summary>
    public int SeasonalLag { get; } = SeasonalLagOf(primaryPeriod, pointsPerDay);

    /// <summary>A week in points, the lag of the weekly inputs (0 for steps longer than a day).</summary>
    public int WeeklyLag => OneStepTask.WeekOf(PointsPerDay);

    /// <summary>Points before the first support point that the inputs read.</summary>
    public int Lead => OneStepTask.Lead(SeasonalLag, WeeklyLag);

    /// <summary>Points a task reads: the lags' lead, the season and the scoring day.</summary>
    public int WindowLength => Lead + SeasonLength + PointsPerDay;

    /// <summary>
    /// Fewest observed points in the season for this model to score a series: a new or sparsely sampled series is
    /// scored on what it has, down to 6 points (its detector state from the days before, when it has one, still sets
    /// its residual scale).
    /// </summary>
    public int MinimumObserved => Math.Max(6, SeasonLength / 48);

    /// <summary>The seasonal lag of a model: its primary period, or one day when it has none (daily cycles are the rule).</summary>
    public static int SeasonalLagOf(int primaryPeriod, int pointsPerDay) => primaryPeriod > 1 ? primaryPeriod : pointsPerDay;

    /// <summary>
    /// The support season of a series' periods: its season (<see cref="SeasonalTask.SeasonLength"/>), repeated until it
    /// holds at least <see cref="MinimumSupport"/> points, so a short period still gives the adaptation enough points.
    /// </summary>
    public static int SupportSeason(int primaryPeriod, int secondaryPeriod, int pointsPerDay)
    {
        int season = SeasonalTask.SeasonLength(primaryPeriod, secondaryPeriod, pointsPerDay);
        return season * ((MinimumSupport + season - 1) / season);
    }

    /// <summary>The season of a generic model: one day of points (at least <see cref="MinimumSupport"/>).</summary>
    public static int GenericSeason(int pointsPerDay) => SupportSeason(0, 0, pointsPerDay);
}
