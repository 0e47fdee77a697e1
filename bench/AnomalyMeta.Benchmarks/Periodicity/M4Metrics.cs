namespace AnomalyMeta.Benchmarks;

/// <summary>The M4 competition's seasonal naive benchmark and MASE, shared by the M4 evaluation and the cluster benchmark.</summary>
public static class M4Metrics
{
    /// <summary>Repeats the last season of <paramref name="history"/> (m = 1: the naive forecast) over <paramref name="horizon"/> points.</summary>
    public static float[] SeasonalNaive(ReadOnlySpan<float> history, int season, int horizon)
    {
        var forecast = new float[horizon];
        for (int h = 0; h < horizon; h++)
        {
            forecast[h] = history[history.Length - season + (h % season)];
        }

        return forecast;
    }

    /// <summary>Mean absolute error over the horizon divided by the in-sample mean absolute seasonal difference (M4's MASE).</summary>
    public static double Mase(ReadOnlySpan<float> history, ReadOnlySpan<float> actual, ReadOnlySpan<float> forecast, int season)
    {
        double scale = 0;
        for (int t = season; t < history.Length; t++)
        {
            scale += Math.Abs(history[t] - history[t - season]);
        }

        scale /= history.Length - season;
        double error = 0;
        for (int h = 0; h < actual.Length; h++)
        {
            error += Math.Abs(actual[h] - forecast[h]);
        }

        error /= actual.Length;
        return scale > 0 ? error / scale : 0;
    }
}
