namespace AnomalyMeta.Periodicity;

/// <summary>Gap filling and spike removal shared by detection and feature extraction.</summary>
internal static class SeriesPreparation
{
    /// <summary>Number of observed (finite) points, as <see cref="FillGaps"/> counts them.</summary>
    public static int CountObserved(ReadOnlySpan<float> values)
    {
        int observed = 0;
        foreach (float v in values)
        {
            observed += float.IsFinite(v) ? 1 : 0;
        }

        return observed;
    }

    /// <summary>
    /// Copies <paramref name="values"/> into <paramref name="output"/> with every non-finite point replaced by linear
    /// interpolation between its observed neighbours (edges take the nearest observed value).
    /// </summary>
    /// <returns>Number of observed (finite) points; 0 leaves <paramref name="output"/> undefined.</returns>
    public static int FillGaps(ReadOnlySpan<float> values, Span<float> output)
    {
        int n = values.Length;
        int observed = 0;
        int previous = -1;
        for (int t = 0; t < n; t++)
        {
            float v = values[t];
            if (!float.IsFinite(v))
            {
                continue;
            }

            observed++;
            output[t] = v;
            if (previous < 0)
            {
                output[..t].Fill(v);
            }
            else if (t - previous > 1)
            {
                float start = output[previous];
                float step = (v - start) / (t - previous);
                for (int i = previous + 1; i < t; i++)
                {
                    output[i] = start + (step * (i - previous));
                }
            }

            previous = t;
        }

        if (previous >= 0 && previous < n - 1)
        {
            output[(previous + 1)..n].Fill(output[previous]);
        }

        return observed;
    }

    /// <summary>
    /// Replaces isolated one-point spikes (a jump up then down, or down then up, both far above the typical step)
    /// by the mean of their neighbours. Level shifts are a single jump and stay untouched: the moving-average trend
    /// of the decomposition absorbs them.
    /// </summary>
    public static void RemoveSpikes(Span<float> y, Span<float> scratch)
    {
        int n = y.Length;
        if (n < 5)
        {
            return;
        }

        // Median absolute step from at most 256 steps spread by a multiplicative hash (an even stride could alias
        // with the period): as robust as the full median, since spikes are rare, at a fraction of its cost.
        int count = Math.Min(n - 1, 256);
        Span<float> steps = scratch[..count];
        // Step i is 1 + (i * 2654435761) mod (n - 1), kept as a running remainder: one division per series instead
        // of a 64-bit division (tens of cycles) for each of the 256 steps.
        long stride = 2654435761L % (n - 1);
        long remainder = 0;
        for (int i = 0; i < count; i++)
        {
            int t = count == n - 1 ? i + 1 : 1 + (int)remainder;
            steps[i] = MathF.Abs(y[t] - y[t - 1]);
            remainder += stride;
            if (remainder >= n - 1)
            {
                remainder -= n - 1;
            }
        }

        float typicalStep = Select(steps, steps.Length / 2);
        // 8 median absolute steps is about 7 sigma of a Gaussian step: seasonal swings rarely reach it twice in a row.
        float threshold = 8f * typicalStep;
        if (threshold <= 0f)
        {
            return;
        }

        for (int t = 1; t < n - 1; t++)
        {
            float up = y[t] - y[t - 1];
            float down = y[t + 1] - y[t];
            if (MathF.Abs(up) > threshold && MathF.Abs(down) > threshold && (up > 0f) != (down > 0f))
            {
                y[t] = 0.5f * (y[t - 1] + y[t + 1]);
            }
        }
    }

    /// <summary>The k-th smallest value (quickselect, reorders <paramref name="data"/>).</summary>
    public static float Select(Span<float> data, int k)
    {
        int left = 0;
        int right = data.Length - 1;
        while (left < right)
        {
            float pivot = data[(left + right) >> 1];
            int i = left;
            int j = right;
            while (i <= j)
            {
                while (data[i] < pivot)
                {
                    i++;
                }

                while (data[j] > pivot)
                {
                    j--;
                }

                if (i <= j)
                {
                    (data[i], data[j]) = (data[j], data[i]);
                    i++;
                    j--;
                }
            }

            if (k <= j)
            {
                right = j;
            }
            else if (k >= i)
            {
                left = i;
            }
            else
            {
                break;
            }
        }

        return data[k];
    }
}
