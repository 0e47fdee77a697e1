namespace AnomalyMeta.Core.Detection;

/// <summary>How far from its forecast a point must be to be flagged, one setting for every series.</summary>
public sealed record DetectionOptions
{
    /// <summary>Flag when |residual| exceeds this many robust standard deviations of out-of-sample residuals.</summary>
    public float Threshold { get; init; } = 5.5f;

    /// <summary>
    /// Floor of the residual scale, in units of the support window's typical one-step change: a model that forecasts
    /// a smooth series almost exactly must not turn every small wobble into an anomaly.
    /// </summary>
    public float MinimumScale { get; init; } = 0.05f;

    /// <summary>
    /// After a flag, the series' next points (this share of a day) score at most 0.49 of their raw score, so they are
    /// not flagged again: an anomaly is reported by its first points, which carry its highest scores, instead of an
    /// alert per point for as long as it lasts.
    /// </summary>
    public float QuietDays { get; init; } = 0.5f;

    /// <summary>
    /// A point must also exceed the largest residual of the recent past (about a day, decaying) by this factor to
    /// reach the threshold: a heavy-tailed series that throws an 8-sigma residual every day is judged against its
    /// own extremes, not against a Gaussian's. 0 turns the check off.
    /// </summary>
    public float PeakMargin { get; init; } = 1.5f;

    /// <summary>Half-life of the recent largest residual, in days: how long a big surprise raises the bar.</summary>
    public float PeakMemoryDays { get; init; } = 1f;
}

/// <summary>
/// Scores a day of one-step forecasts against what happened. The residual scale starts from out-of-sample residuals
/// (a model adapted on the first half of the support, forecasting the second half) and follows the day's own
/// residuals (each winsorised at the threshold, so an anomaly barely widens the band that judges the next point).
/// </summary>
public static class DayScorer
{
    /// <summary>Scores in a quiet period are scaled by this: they still rank, but never reach the threshold's 0.5.</summary>
    public const float QuietFactor = 0.49f;

    /// <summary>
    /// Writes each point's score (NaN where <paramref name="actual"/> is missing) and residual scale, and returns how
    /// many points were scored. <paramref name="residuals"/> are actual − forecast in the same unit as
    /// <paramref name="initialScale"/>; <paramref name="quietPoints"/> how long a flag silences the next ones, and
    /// <paramref name="quietPointsBefore"/> how many of the first points a flag of the day before still silences;
    /// <paramref name="initialPeak"/> the largest recent out-of-sample |residual| (<see cref="DetectionOptions.PeakMargin"/>),
    /// which halves over <paramref name="peakMemoryPoints"/>; the scale and peak at the end of the day come out for the
    /// next day to start from.
    /// </summary>
    public static int Score(ReadOnlySpan<float> actual, ReadOnlySpan<float> residuals, float initialScale, float initialPeak,
        int memoryPoints, int peakMemoryPoints, int quietPoints, int quietPointsBefore, DetectionOptions options,
        Span<float> scales, Span<float> scores, out float finalScale, out float finalPeak)
    {
        float variance = initialScale * initialScale;
        float peak = initialPeak;
        // The peak halves over memoryPoints points: yesterday's extremes fade instead of masking for ever.
        float peakDecay = MathF.Pow(0.5f, 1f / peakMemoryPoints);
        float peakToScale = options.PeakMargin / options.Threshold;
        float alpha = 2f / (memoryPoints + 1);
        float floor = options.MinimumScale * options.MinimumScale;
        int quietUntil = quietPointsBefore - 1;
        int scored = 0;
        for (int t = 0; t < actual.Length; t++)
        {
            float scale = Math.Max(MathF.Sqrt(variance), peak * peakToScale);
            scales[t] = scale;
            if (float.IsNaN(actual[t]))
            {
                scores[t] = float.NaN;
                continue;
            }
            scored++;
            float z = residuals[t] / scale;
            float score = ResidualScorer.Score(z, options.Threshold);
            if (t <= quietUntil)
            {
                // Below the threshold's 0.5 even for a saturated raw score of 1.
                score *= QuietFactor;
            }
            else if (score >= 0.5f)
            {
                quietUntil = t + quietPoints;
            }
            scores[t] = score;
            float bounded = Math.Min(Math.Abs(z), options.Threshold) * scale;
            variance = Math.Max(((1 - alpha) * variance) + (alpha * bounded * bounded), floor);
            peak = Math.Max(peak * peakDecay, Math.Abs(residuals[t]));
        }
        finalScale = MathF.Sqrt(variance);
        finalPeak = peak;
        return scored;
    }
}

/// <summary>
/// Scores a forecast against what happened. The residual scale comes from how well the adapted model fits its own
/// support window (median absolute deviation, robust to anomalies inside that window).
/// </summary>
public static class ResidualScorer
{
    // 1.4826 * MAD estimates the standard deviation of Gaussian residuals.
    private const float MadToSigma = 1.4826f;

    /// <summary>Robust standard deviation of actual - fitted; <paramref name="scratch"/> is as long as the inputs.</summary>
    public static float RobustScale(ReadOnlySpan<float> actual, ReadOnlySpan<float> fitted, Span<float> scratch, float minimum)
    {
        int n = actual.Length;
        for (int i = 0; i < n; i++)
        {
            scratch[i] = actual[i] - fitted[i];
        }
        return RobustScale(scratch[..n], minimum);
    }

    /// <summary>Robust standard deviation (1.4826 × MAD) of <paramref name="residuals"/>, which it reorders.</summary>
    public static float RobustScale(Span<float> residuals, float minimum)
    {
        float median = Median(residuals);
        for (int i = 0; i < residuals.Length; i++)
        {
            residuals[i] = Math.Abs(residuals[i] - median);
        }
        return Math.Max(MadToSigma * Median(residuals), minimum);
    }

    /// <summary>
    /// Maps a standardised residual to [0, 1]: 0 on the forecast, 0.5 at the threshold, towards 1 beyond.
    /// score = 1 - 2^-(z/threshold)^2, so score ≥ 0.5 exactly when the point is flagged.
    /// </summary>
    public static float Score(float standardisedResidual, float threshold)
    {
        float ratio = standardisedResidual / threshold;
        return 1f - MathF.Pow(2f, -(ratio * ratio));
    }

    /// <summary>Median by sorting in place (windows are at most a few hundred points).</summary>
    private static float Median(Span<float> values)
    {
        values.Sort();
        int middle = values.Length / 2;
        return values.Length % 2 == 1 ? values[middle] : 0.5f * (values[middle - 1] + values[middle]);
    }
}
