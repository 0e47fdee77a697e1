using AnomalyMeta.Scoring;
using AnomalyMeta.Core.Detection;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Storage;

namespace AnomalyMeta.Benchmarks.Evaluation;

/// <summary>
/// Precision, recall and F1 of the scoring day's flags under the delay protocol (<see cref="DelayAdjusted"/>), overall
/// and per series family, and point-wise (every anomalous point must be flagged) for comparison.
/// </summary>
public sealed record SyntheticEvaluationResult(DetectionMetrics Overall, IReadOnlyDictionary<SeriesFamily, DetectionMetrics> ByFamily, DetectionMetrics PointWise);

/// <summary>Compares the flags of the scoring day with the generator's ground truth.</summary>
public static class SyntheticEvaluation
{
    /// <summary>Points after an anomaly's onset within which its first flag must come (3 hours on hourly data, as SR-CNN on Yahoo).</summary>
    public const int Delay = 3;

    public static SyntheticEvaluationResult Evaluate(SyntheticSeriesGenerator generator, IReadOnlyList<FlaggedPoint> flagged)
    {
        var options = generator.Options;
        int perDay = options.PointsPerDay;
        var dayStart = options.ScoringDay.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var stepTicks = TimeSpan.FromDays(1).Ticks / perDay;
        var flags = new HashSet<(string Key, int Slot)>();
        foreach (var point in flagged)
        {
            flags.Add((point.SeriesKey, (int)((point.Ts - dayStart).Ticks / stepTicks)));
        }

        var overall = new DetectionMetrics();
        var pointWise = new DetectionMetrics();
        var byFamily = new Dictionary<SeriesFamily, DetectionMetrics>();
        int scoringDayStart = options.HistoryDays * perDay;
        var isFlagged = new bool[perDay];
        var counted = new bool[perDay];
        for (int i = 0; i < options.SeriesCount; i++)
        {
            var series = generator.Generate(i);
            for (int slot = 0; slot < perDay; slot++)
            {
                isFlagged[slot] = flags.Contains((series.Key, slot));
                counted[slot] = !float.IsNaN(series.Values[scoringDayStart + slot]);
                if (counted[slot])
                {
                    pointWise = pointWise.Add(isFlagged[slot], series.Anomalous[scoringDayStart + slot]);
                }
            }
            var anomalous = series.Anomalous.AsSpan(scoringDayStart, perDay);
            overall = DelayAdjusted.Add(overall, isFlagged, anomalous, counted, Delay);
            byFamily[series.Family] = DelayAdjusted.Add(byFamily.GetValueOrDefault(series.Family), isFlagged, anomalous, counted, Delay);
        }
        return new SyntheticEvaluationResult(overall, byFamily, pointWise);
    }
}
