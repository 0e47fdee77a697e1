namespace AnomalyMeta.Periodicity;

/// <summary>
/// Classical additive decomposition with a centred moving average of one period as trend (2xP for even P), which
/// follows trends and level shifts while cancelling the season exactly.
/// </summary>
internal static class SeasonalDecomposition
{
    /// <summary>Fills <paramref name="prefix"/> (length n + 1) with running sums of <paramref name="y"/>.</summary>
    public static void PrefixSums(ReadOnlySpan<float> y, Span<double> prefix)
    {
        double sum = 0;
        prefix[0] = 0;
        for (int t = 0; t < y.Length; t++)
        {
            sum += y[t];
            prefix[t + 1] = sum;
        }
    }

    /// <summary>Centred moving average of one period at t; valid for Half(period) &lt;= t &lt; n - Half(period).</summary>
    public static double Trend(ReadOnlySpan<float> y, ReadOnlySpan<double> prefix, int period, int t)
    {
        int h = period >> 1;
        if ((period & 1) == 1)
        {
            return (prefix[t + h + 1] - prefix[t - h]) / period;
        }

        // 2xP moving average: half weight on the two ends so that the window spans exactly one period.
        return (prefix[t + h] - prefix[t - h + 1] + (0.5 * (y[t - h] + y[t + h]))) / period;
    }

    /// <summary>
    /// Seasonal strength 1 - Var(remainder) / Var(detrended) with degrees-of-freedom adjustment (remainder variance
    /// divided by m - P, since P phase means were fitted), so that long periods do not win by overfitting noise.
    /// Returns -1 when the series is too short for the period (fewer than two periods after the trend's edges).
    /// </summary>
    /// <remarks>
    /// One pass: the remainder's sum of squares is the within-phase sum of squares,
    /// sum(d^2) - sum over phases of (phase sum)^2 / (phase count).
    /// </remarks>
    public static double AdjustedStrength(
        ReadOnlySpan<float> y, ReadOnlySpan<double> prefix, int period, Span<double> phaseSum)
    {
        int n = y.Length;
        int h = period >> 1;
        int m = n - (2 * h);
        if (m < 2 * period || period < 2)
        {
            return -1;
        }

        Span<double> phase = phaseSum[..period];
        phase.Clear();
        double sumD = 0;
        double sumD2 = 0;
        int j = h % period;
        bool odd = (period & 1) == 1;
        double inversePeriod = 1.0 / period;
        for (int t = h; t < n - h; t++)
        {
            double window = odd
                ? prefix[t + h + 1] - prefix[t - h]
                : prefix[t + h] - prefix[t - h + 1] + (0.5 * (y[t - h] + y[t + h]));
            double d = y[t] - (window * inversePeriod);
            phase[j] += d;
            sumD += d;
            sumD2 += d * d;
            if (++j == period)
            {
                j = 0;
            }
        }

        // Phase i (in order of first appearance from t = h) holds floor(m / period) or one more point.
        int fullCycles = m / period;
        int extra = m % period;
        double explained = 0;
        j = h % period;
        for (int i = 0; i < period; i++)
        {
            double s = phase[j];
            explained += s * s / (fullCycles + (i < extra ? 1 : 0));
            if (++j == period)
            {
                j = 0;
            }
        }

        double ssd = sumD2 - (sumD * sumD / m);
        double ssr = Math.Max(sumD2 - explained, 0);
        if (ssd <= 1e-12 * Math.Max(1.0, sumD2))
        {
            return 0;
        }

        double varianceRemainder = ssr / (m - period);
        double varianceDetrended = ssd / (m - 1);
        return Math.Clamp(1.0 - (varianceRemainder / varianceDetrended), 0.0, 1.0);
    }

    /// <summary>
    /// Full fit of one period for the significance test: sums of squares of the detrended series and of the
    /// remainder, and the remainder's lag-1 autocorrelation (which tells how many independent points there are).
    /// </summary>
    public static SeasonFit Fit(ReadOnlySpan<float> y, ReadOnlySpan<double> prefix, int period, Span<double> phaseSum)
    {
        int n = y.Length;
        int h = period >> 1;
        int m = n - (2 * h);
        if (m < 2 * period || period < 2)
        {
            return default;
        }

        Span<double> phase = phaseSum[..period];
        phase.Clear();
        double sumD = 0;
        double sumD2 = 0;
        int j = h % period;
        for (int t = h; t < n - h; t++)
        {
            double d = y[t] - Trend(y, prefix, period, t);
            phase[j] += d;
            sumD += d;
            sumD2 += d * d;
            if (++j == period)
            {
                j = 0;
            }
        }

        int fullCycles = m / period;
        int extra = m % period;
        j = h % period;
        for (int i = 0; i < period; i++)
        {
            phase[j] /= fullCycles + (i < extra ? 1 : 0);
            if (++j == period)
            {
                j = 0;
            }
        }

        double ssr = 0;
        double lagged = 0;
        double previous = 0;
        j = h % period;
        for (int t = h; t < n - h; t++)
        {
            double r = y[t] - Trend(y, prefix, period, t) - phase[j];
            ssr += r * r;
            lagged += r * previous;
            previous = r;
            if (++j == period)
            {
                j = 0;
            }
        }

        double ssd = sumD2 - (sumD * sumD / m);
        return new SeasonFit(ssd, ssr, ssr > 0 ? lagged / ssr : 0, m);
    }

    /// <summary>
    /// F statistic (already deflated by the remainder's autocorrelation) of a longer period k * P modelled as the
    /// P-profile with its own level and amplitude in each of the k sub-cycles: how weekdays differ on hourly data.
    /// 2k - 2 parameters instead of the (k - 1) P of a free k * P profile, so four weeks suffice to see a weekend.
    /// </summary>
    public static (double F, int Df1, int Df2) SubCycleF(
        ReadOnlySpan<float> y, ReadOnlySpan<double> prefix, int period, int cycles, Span<double> phaseSum)
    {
        int n = y.Length;
        int h = period >> 1;
        int m = n - (2 * h);
        int df1 = (2 * cycles) - 2;
        int df2 = m - period - (2 * cycles);
        if (m < 2 * period || df2 < 1 || cycles < 2 || cycles > MaxSubCycles)
        {
            return (0, 1, 1);
        }

        Span<double> phase = phaseSum[..period];
        phase.Clear();
        int j = h % period;
        for (int t = h; t < n - h; t++)
        {
            phase[j] += y[t] - Trend(y, prefix, period, t);
            if (++j == period)
            {
                j = 0;
            }
        }

        int fullCycles = m / period;
        int extra = m % period;
        j = h % period;
        for (int i = 0; i < period; i++)
        {
            phase[j] /= fullCycles + (i < extra ? 1 : 0);
            if (++j == period)
            {
                j = 0;
            }
        }

        // Per sub-cycle: count, sum r, sum s, sum s^2, sum r s.
        Span<double> stats = stackalloc double[5 * MaxSubCycles];
        stats.Clear();
        double ssr = 0;
        double lagged = 0;
        double previous = 0;
        j = h % period;
        int cycle = (h / period) % cycles;
        for (int t = h; t < n - h; t++)
        {
            double seasonal = phase[j];
            double r = y[t] - Trend(y, prefix, period, t) - seasonal;
            ssr += r * r;
            lagged += r * previous;
            previous = r;
            int at = 5 * cycle;
            stats[at]++;
            stats[at + 1] += r;
            stats[at + 2] += seasonal;
            stats[at + 3] += seasonal * seasonal;
            stats[at + 4] += r * seasonal;
            if (++j == period)
            {
                j = 0;
                if (++cycle == cycles)
                {
                    cycle = 0;
                }
            }
        }

        double explained = 0;
        for (int c = 0; c < cycles; c++)
        {
            int at = 5 * c;
            double count = stats[at];
            if (count < 2)
            {
                continue;
            }

            double meanR = stats[at + 1] / count;
            double meanS = stats[at + 2] / count;
            double varianceS = stats[at + 3] - (count * meanS * meanS);
            double covariance = stats[at + 4] - (count * meanR * meanS);
            explained += count * meanR * meanR;
            if (varianceS > 1e-12)
            {
                explained += covariance * covariance / varianceS;
            }
        }

        double unexplained = ssr - explained;
        if (unexplained <= 0)
        {
            return (double.PositiveInfinity, df1, df2);
        }

        double rho = ssr > 0 ? Math.Clamp(lagged / ssr, 0, 0.99) : 0;
        double f = (explained / df1) / (unexplained / df2);
        return (f * (1 - rho) / (1 + rho), df1, df2);
    }

    /// <summary>Most sub-cycles <see cref="SubCycleF"/> models; longer multiples use the free-profile test only.</summary>
    public const int MaxSubCycles = 64;
}

/// <summary>Sums of squares of one seasonal fit; <see cref="Length"/> 0 when the series was too short.</summary>
internal readonly record struct SeasonFit(double Detrended, double Remainder, double Lag1, int Length)
{
    /// <summary>
    /// Points worth of independent information in the remainder: an AR(1)-like remainder with correlation rho
    /// carries m (1 - rho) / (1 + rho). A random walk leaves a smooth remainder and so few effective points that
    /// its "season" is not significant, while white noise around a real season keeps them all.
    /// </summary>
    public double EffectiveLength
    {
        get
        {
            double rho = Math.Clamp(Lag1, 0, 0.99);
            return Length * (1 - rho) / (1 + rho);
        }
    }
}
