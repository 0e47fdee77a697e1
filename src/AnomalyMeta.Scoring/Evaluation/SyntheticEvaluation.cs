using AnomalyMeta.Core.Detection;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Evaluation;

/// <summary>Point-level precision, recall and F1 of the flags of the scoring day against the generator's truth.</summary>
public static class SyntheticEvaluation
{
    public static DetectionMetrics Evaluate(SyntheticSeriesGenerator generator, IReadOnlyList<FlaggedPoint> flagged)
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

        var metrics = new DetectionMetrics();
        int scoringDayStart = options.HistoryDays * perDay;
        for (int i = 0; i < options.SeriesCount; i++)
        {
            var series = generator.Generate(i);
            for (int slot = 0; slot < perDay; slot++)
            {
                if (float.IsNaN(series.Values[scoringDayStart + slot]))
                {
                    continue;
                }
                metrics = metrics.Add(flags.Contains((series.Key, slot)), series.Anomalous[scoringDayStart + slot]);
            }
        }
        return metrics;
    }
}
