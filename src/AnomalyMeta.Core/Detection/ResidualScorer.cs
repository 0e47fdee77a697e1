namespace AnomalyMeta.Core.Detection;

/// <summary>How far from its forecast a point must be to be flagged.</summary>
public sealed record DetectionOptions
{
    /// <summary>Flag when |residual| exceeds this many robust standard deviations; the band is forecast ± this.</summary>
    public float Threshold { get; init; } = 4.5f;

    /// <summary>
    /// Floor of the residual scale, in units of the support window's standard deviation: an adapted model that
    /// fits a smooth series almost exactly must not turn every small wobble into an anomaly.
    /// </summary>
    public float MinimumScale { get; init; } = 0.05f;
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
        var residuals = scratch[..n];
        float median = Median(residuals);
        for (int i = 0; i < n; i++)
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
