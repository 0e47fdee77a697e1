namespace AnomalyMeta.Core.Detection;

/// <summary>Point-level confusion counts against ground truth, and the figures derived from them.</summary>
public readonly record struct DetectionMetrics(long TruePositives, long FalsePositives, long FalseNegatives)
{
    public double Precision => TruePositives + FalsePositives == 0 ? 0 : (double)TruePositives / (TruePositives + FalsePositives);

    public double Recall => TruePositives + FalseNegatives == 0 ? 0 : (double)TruePositives / (TruePositives + FalseNegatives);

    public double F1 => Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);

    /// <summary>Adds one point's outcome.</summary>
    public DetectionMetrics Add(bool flagged, bool anomalous) => (flagged, anomalous) switch
    {
        (true, true) => this with { TruePositives = TruePositives + 1 },
        (true, false) => this with { FalsePositives = FalsePositives + 1 },
        (false, true) => this with { FalseNegatives = FalseNegatives + 1 },
        _ => this,
    };
}

/// <summary>
/// The delay protocol of Donut (Xu et al. 2018) and SR-CNN (Ren et al. 2019): a contiguous anomalous segment counts as
/// detected, every point of it, when a flag falls within its first <c>delay + 1</c> points, and as missed otherwise;
/// flags outside segments are false positives point by point. An operator is paged once per event, early: that is
/// what this rewards, where plain point-wise recall would ask for a flag on every point of a level shift.
/// </summary>
public static class DelayAdjusted
{
    /// <summary>Adds one series' points; <paramref name="counted"/> false skips a point (missing).</summary>
    public static DetectionMetrics Add(DetectionMetrics metrics, ReadOnlySpan<bool> flagged, ReadOnlySpan<bool> anomalous,
        ReadOnlySpan<bool> counted, int delay)
    {
        int t = 0;
        while (t < anomalous.Length)
        {
            if (!anomalous[t])
            {
                if (counted[t] && flagged[t])
                {
                    metrics = metrics with { FalsePositives = metrics.FalsePositives + 1 };
                }
                t++;
                continue;
            }
            int end = t;
            bool detected = false;
            while (end < anomalous.Length && anomalous[end])
            {
                detected |= flagged[end] && end - t <= delay;
                end++;
            }
            int points = 0;
            for (int i = t; i < end; i++)
            {
                points += counted[i] ? 1 : 0;
            }
            metrics = detected
                ? metrics with { TruePositives = metrics.TruePositives + points }
                : metrics with { FalseNegatives = metrics.FalseNegatives + points };
            t = end;
        }
        return metrics;
    }
}
