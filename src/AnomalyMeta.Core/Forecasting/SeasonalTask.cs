namespace AnomalyMeta.Core.Forecasting;

/// <summary>
/// Turns a window of a series into a regression task for the meta-learner: inputs are where a point sits in the
/// series' seasons, targets are its values z-normalised by the support window. A task's support set is the last
/// season of K points before the forecast; its query set is the points to forecast (Finn et al. 2017 treat each
/// sinusoid as a task the same way: a few (x, y) pairs, then predictions at new x).
/// </summary>
public static class SeasonalTask
{
    /// <summary>Inputs per point: position in the primary period and position in the season (the longer period).</summary>
    public const int InputSize = 2;

    /// <summary>Inputs span [-InputRange, InputRange], the range of the sinusoid benchmark the MLP was sized for.</summary>
    public const float InputRange = 5f;

    /// <summary>
    /// The season a task adapts on: the secondary period when there is one (168 for hourly data with a weekly
    /// pattern, so the support holds every weekday), else the primary, else one day of points.
    /// </summary>
    public static int SeasonLength(int primaryPeriod, int secondaryPeriod, int pointsPerDay)
    {
        if (secondaryPeriod > 1)
        {
            return secondaryPeriod;
        }
        return primaryPeriod > 1 ? primaryPeriod : pointsPerDay;
    }

    /// <summary>
    /// Writes the inputs of <paramref name="count"/> consecutive points starting at absolute index
    /// <paramref name="firstIndex"/> (points since the epoch, so phases line up across days). [count, InputSize]
    /// </summary>
    public static void EncodeInputs(long firstIndex, int count, int primaryPeriod, int seasonLength, Span<float> inputs)
    {
        int primary = primaryPeriod > 1 ? primaryPeriod : seasonLength;
        float primaryStep = 2 * InputRange / primary;
        float seasonStep = 2 * InputRange / seasonLength;
        for (int i = 0; i < count; i++)
        {
            long t = firstIndex + i;
            inputs[i * InputSize] = (t % primary) * primaryStep - InputRange;
            inputs[i * InputSize + 1] = (t % seasonLength) * seasonStep - InputRange;
        }
    }

    /// <summary>
    /// Mean and scale of a gap-free support window; the scale has a floor so a nearly flat series does not turn its
    /// noise into huge targets. Returns false when the window is constant (nothing to adapt to).
    /// </summary>
    public static bool TryNormalisation(ReadOnlySpan<float> support, out float mean, out float scale)
    {
        double sum = 0;
        foreach (float value in support)
        {
            sum += value;
        }
        mean = (float)(sum / support.Length);
        double squares = 0;
        foreach (float value in support)
        {
            double d = value - mean;
            squares += d * d;
        }
        float std = (float)Math.Sqrt(squares / support.Length);
        scale = Math.Max(std, 1e-3f * Math.Abs(mean));
        return std > 1e-6f * Math.Max(1f, Math.Abs(mean));
    }

    /// <summary>Writes (value - mean) / scale for each point.</summary>
    public static void Normalise(ReadOnlySpan<float> values, float mean, float scale, Span<float> targets)
    {
        float inverse = 1f / scale;
        for (int i = 0; i < values.Length; i++)
        {
            targets[i] = (values[i] - mean) * inverse;
        }
    }
}
