namespace AnomalyMeta.Core.Series;

/// <summary>Checks and repairs a window of observations before it becomes a learning task.</summary>
public static class WindowRepair
{
    /// <summary>
    /// Fills missing points (NaN) by linear interpolation between their observed neighbours, and by the nearest
    /// observed value at the edges. Returns the number of observed points; 0 means nothing could be filled.
    /// </summary>
    public static int FillGaps(Span<float> values)
    {
        int observed = 0;
        int previous = -1;
        for (int i = 0; i < values.Length; i++)
        {
            if (float.IsNaN(values[i]))
            {
                continue;
            }
            observed++;
            if (previous < 0)
            {
                values[..i].Fill(values[i]);
            }
            else if (i - previous > 1)
            {
                float start = values[previous];
                float slope = (values[i] - start) / (i - previous);
                for (int j = previous + 1; j < i; j++)
                {
                    values[j] = start + slope * (j - previous);
                }
            }
            previous = i;
        }
        if (previous >= 0 && previous < values.Length - 1)
        {
            values[(previous + 1)..].Fill(values[previous]);
        }
        return observed;
    }

    /// <summary>Counts points that are neither NaN (missing) nor finite: such a window cannot be scored.</summary>
    public static bool HasInfinity(ReadOnlySpan<float> values)
    {
        foreach (float value in values)
        {
            if (float.IsInfinity(value))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Counts the observed (non-NaN) points.</summary>
    public static int CountObserved(ReadOnlySpan<float> values)
    {
        int observed = 0;
        foreach (float value in values)
        {
            if (!float.IsNaN(value))
            {
                observed++;
            }
        }
        return observed;
    }
}
