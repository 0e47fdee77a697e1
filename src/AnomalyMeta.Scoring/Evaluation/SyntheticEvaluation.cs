using AnomalyMeta.Core.Detection;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Storage;

namespace AnomalyMeta.Scoring.Evaluation;

/// <summary>Point-level precision, recall and F1 of the scoring day's flags, overall and per series family.</summary>
public sealed record SyntheticEvaluationResult(DetectionMetrics Overall, IReadOnlyDictionary<SeriesFamily, DetectionMetrics> ByFamily);

/// <summary>Compares the flags of the scoring day with the generator's ground truth.</summary>
public static class SyntheticEvaluation
{
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
        var byFamily = new Dictionary<SeriesFamily, DetectionMetrics>();
        int scoringDayStart = options.HistoryDays * perDay;
        for (int i = 0; i < options.SeriesCount; i++)
        {
            var series = generator.Generate(i);
            var family = byFamily.GetValueOrDefault(series.Family);
            for (int slot = 0; slot < perDay; slot++)
            {
                if (float.IsNaN(series.Values[scoringDayStart + slot]))
                {
                    continue;
                }
                bool flaggedPoint = flags.Contains((series.Key, slot));
                bool anomalous = series.Anomalous[scoringDayStart + slot];
                overall = overall.Add(flaggedPoint, anomalous);
                family = family.Add(flaggedPoint, anomalous);
            }
            byFamily[series.Family] = family;
        }
        return new SyntheticEvaluationResult(overall, byFamily);
    }
}
