using System.Globalization;
using AnomalyMeta.Storage;
using ScottPlot;

namespace AnomalyMeta.Cli.Charts;

/// <summary>Draws a <see cref="SeriesDay"/>: what the model adapted on, what it expected of the day, and what it flagged.</summary>
internal static class SeriesDayChart
{
    /// <summary>Flags are pure red, and nothing else on the chart is: a reader (or a test) finds them by colour.</summary>
    public static readonly Color FlagColor = new(255, 0, 0);

    private static readonly Color ActualColor = new(30, 30, 30);
    private static readonly Color ForecastColor = new(31, 119, 180);
    private static readonly Color BandColor = new(31, 119, 180, 60);
    private static readonly Color WindowColor = new(128, 128, 128, 40);

    public static void SavePng(SeriesDay day, string path, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(day);
        using var plot = new Plot();
        var step = TimeSpan.FromSeconds(day.StepSeconds);
        double[] windowX = Times(day.WindowStart, step, day.Window.Length);
        double[] dayX = Times(day.DayStart, step, day.PointsPerDay);

        // The adaptation window: the season of K points the model adapted on before forecasting the day.
        var window = plot.Add.HorizontalSpan(windowX[0], day.DayStart.ToOADate(), WindowColor);
        window.LegendText = $"adaptation window (K = {day.SeasonLength})";
        window.LineStyle.Width = 0;
        plot.Add.VerticalLine(day.DayStart.ToOADate(), 1, new Color(120, 120, 120), LinePattern.Dashed);

        bool first = true;
        foreach (var (start, length) in Segments(day.Lower, day.Upper))
        {
            var band = plot.Add.FillY(dayX[start..(start + length)], Doubles(day.Lower, start, length), Doubles(day.Upper, start, length));
            band.FillColor = BandColor;
            band.LineWidth = 0;
            band.LegendText = first ? $"band (forecast ± {day.BandHalfWidth.ToString("G3", CultureInfo.InvariantCulture)})" : "";
            first = false;
        }

        double[] allX = [.. windowX, .. dayX];
        float[] allActual = [.. day.Window, .. day.Actual];
        Lines(plot, allX, allActual, ActualColor, 1.5f, "actual");
        Lines(plot, dayX, day.Forecast, ForecastColor, 1.5f, "forecast");

        // Drawn last, over the lines. Not in the legend (the title counts them): red on the chart means a flagged point.
        if (day.Flags.Count > 0)
        {
            plot.Add.Markers(day.Flags.Select(f => f.Ts.ToOADate()).ToArray(), day.Flags.Select(f => (double)f.Value).ToArray(),
                MarkerShape.FilledCircle, 10, FlagColor);
        }

        plot.Axes.DateTimeTicksBottom();
        plot.Title(Title(day));
        plot.YLabel("value");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, width, height);
    }

    public static string Title(SeriesDay day)
    {
        ArgumentNullException.ThrowIfNull(day);
        string flags = day.AnomalyCount == 1 ? "1 flag" : $"{day.AnomalyCount} flags";
        return $"{day.SeriesKey} · {day.Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)} · {day.Status}, {flags} ({day.RunKind} run {day.RunId})";
    }

    private static double[] Times(DateTime start, TimeSpan step, int count)
    {
        var times = new double[count];
        for (int i = 0; i < count; i++)
        {
            times[i] = (start + (step * i)).ToOADate();
        }
        return times;
    }

    private static double[] Doubles(float[] values, int start, int length) => Array.ConvertAll(values[start..(start + length)], v => (double)v);

    /// <summary>
    /// Draws the finite runs of <paramref name="ys"/> as separate lines, so a missing point is a gap, not a straight
    /// line across it; a lone point between gaps gets a marker so it is still seen.
    /// </summary>
    private static void Lines(Plot plot, double[] xs, float[] ys, Color color, float width, string legend)
    {
        bool first = true;
        foreach (var (start, length) in Segments(ys, ys))
        {
            var line = plot.Add.ScatterLine(xs[start..(start + length)], Doubles(ys, start, length), color);
            line.LineWidth = width;
            if (length == 1)
            {
                line.MarkerShape = MarkerShape.FilledCircle;
                line.MarkerSize = 4;
            }
            line.LegendText = first ? legend : "";
            first = false;
        }
    }

    /// <summary>Runs of indices where both series are finite: (start, length).</summary>
    private static IEnumerable<(int Start, int Length)> Segments(float[] a, float[] b)
    {
        int start = -1;
        for (int i = 0; i <= a.Length; i++)
        {
            bool finite = i < a.Length && float.IsFinite(a[i]) && float.IsFinite(b[i]);
            if (finite && start < 0)
            {
                start = i;
            }
            else if (!finite && start >= 0)
            {
                yield return (start, i - start);
                start = -1;
            }
        }
    }
}
