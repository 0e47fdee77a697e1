using System.Numerics.Tensors;

namespace AnomalyMeta.Periodicity;

/// <summary>Sums of squares of one seasonal fit; <see cref="Length"/> 0 when the series was too short.</summary>
internal readonly record struct SeasonFit(double Detrended, double Remainder, double Lag1, int Length);

/// <summary>
/// Classical additive decomposition with a centred moving average of one period as trend (2xP for even P), which
/// follows trends and level shifts while cancelling the season exactly. Works on a series held as doubles with its
/// running sums, vectorised with <see cref="TensorPrimitives"/>: the detector evaluates a dozen periods per series.
/// </summary>
internal static class SeasonalDecomposition
{
    /// <summary>Most sub-cycles <see cref="SubCycleF"/> models; longer multiples use the free-profile test only.</summary>
    public const int MaxSubCycles = 64;

    /// <summary>Fills <paramref name="prefix"/> (length n + 1) with running sums of <paramref name="y"/>.</summary>
    public static void PrefixSums(ReadOnlySpan<double> y, Span<double> prefix)
    {
        double sum = 0;
        prefix[0] = 0;
        for (int t = 0; t < y.Length; t++)
        {
            sum += y[t];
            prefix[t + 1] = sum;
        }
    }

    /// <summary>
    /// Writes the detrended series d[i] = y[i + h] - trend[i + h] for the m = n - 2h points where the centred moving
    /// average of one period exists (h = period / 2); returns m, or 0 when fewer than two periods remain.
    /// </summary>
    public static int Detrend(ReadOnlySpan<double> y, ReadOnlySpan<double> prefix, int period, Span<double> detrended)
    {
        int n = y.Length;
        int h = period >> 1;
        int m = n - (2 * h);
        if (period < 2 || m < 2 * period)
        {
            return 0;
        }

        Span<double> d = detrended[..m];
        if ((period & 1) == 1)
        {
            // Window sum over [i, i + 2h]: prefix[i + 2h + 1] - prefix[i].
            TensorPrimitives.Subtract(prefix.Slice((2 * h) + 1, m), prefix[..m], d);
        }
        else
        {
            // 2xP average: half weight on the two ends so that the window spans exactly one period.
            TensorPrimitives.Subtract(prefix.Slice(2 * h, m), prefix.Slice(1, m), d);
            TensorPrimitives.MultiplyAdd(y[..m], 0.5, d, d);
            TensorPrimitives.MultiplyAdd(y.Slice(2 * h, m), 0.5, d, d);
        }

        // d = y - window / period
        TensorPrimitives.MultiplyAdd(d, -1.0 / period, y.Slice(h, m), d);
        return m;
    }

    /// <summary>Sums of the detrended points per phase (phase = index mod period, index 0 at the first detrended point).</summary>
    /// <summary>
    /// Mean of the detrended series at each phase of <paramref name="period"/>: the first m % period phases hold one
    /// more cycle than the others. Returns the first <paramref name="period"/> elements of <paramref name="phaseSum"/>.
    /// </summary>
    private static Span<double> PhaseMeans(ReadOnlySpan<double> detrended, int period, Span<double> phaseSum)
    {
        PhaseSums(detrended, period, phaseSum);
        int fullCycles = detrended.Length / period;
        int extra = detrended.Length % period;
        Span<double> phase = phaseSum[..period];
        TensorPrimitives.Divide(phase[..extra], fullCycles + 1, phase[..extra]);
        TensorPrimitives.Divide(phase[extra..], fullCycles, phase[extra..]);
        return phase;
    }

    public static void PhaseSums(ReadOnlySpan<double> detrended, int period, Span<double> phaseSum)
    {
        Span<double> phase = phaseSum[..period];
        phase.Clear();
        int m = detrended.Length;
        for (int start = 0; start < m; start += period)
        {
            int length = Math.Min(period, m - start);
            TensorPrimitives.Add(phase[..length], detrended.Slice(start, length), phase[..length]);
        }
    }

    /// <summary>Sum over phases of (phase sum)^2 / (phase count): the variance the phase means explain (times m).</summary>
    public static double Explained(ReadOnlySpan<double> phaseSum, int period, int m)
    {
        int fullCycles = m / period;
        int extra = m % period;
        double longer = extra > 0 ? TensorPrimitives.SumOfSquares(phaseSum[..extra]) / (fullCycles + 1) : 0;
        return longer + (TensorPrimitives.SumOfSquares(phaseSum[extra..period]) / fullCycles);
    }

    /// <summary>
    /// Seasonal strength 1 - Var(remainder) / Var(detrended) with degrees-of-freedom adjustment (remainder variance
    /// divided by m - P, since P phase means were fitted), so that long periods do not win by overfitting noise.
    /// Returns -1 when the series is too short for the period (fewer than two periods after the trend's edges).
    /// The remainder's sum of squares is the within-phase one: sum(d^2) - sum over phases of (sum)^2 / count.
    /// </summary>
    public static double AdjustedStrength(
        ReadOnlySpan<double> y, ReadOnlySpan<double> prefix, int period, Span<double> detrended, Span<double> phaseSum)
    {
        int m = Detrend(y, prefix, period, detrended);
        if (m == 0)
        {
            return -1;
        }

        ReadOnlySpan<double> d = detrended[..m];
        PhaseSums(d, period, phaseSum);
        double sumD = TensorPrimitives.Sum(d);
        double sumD2 = TensorPrimitives.SumOfSquares(d);
        double ssd = sumD2 - (sumD * sumD / m);
        double ssr = Math.Max(sumD2 - Explained(phaseSum, period, m), 0);
        if (ssd <= 1e-12 * Math.Max(1.0, sumD2))
        {
            return 0;
        }

        double varianceRemainder = ssr / (m - period);
        double varianceDetrended = ssd / (m - 1);
        return Math.Clamp(1.0 - (varianceRemainder / varianceDetrended), 0.0, 1.0);
    }

    /// <summary>
    /// Full fit of one period for the significance tests: sums of squares of the detrended series and of the
    /// remainder, and the remainder's lag-1 autocorrelation (which tells how many independent points there are).
    /// Leaves the remainder in <paramref name="detrended"/> and the phase means in <paramref name="phaseSum"/>.
    /// </summary>
    public static SeasonFit Fit(
        ReadOnlySpan<double> y, ReadOnlySpan<double> prefix, int period, Span<double> detrended, Span<double> phaseSum)
    {
        int m = Detrend(y, prefix, period, detrended);
        if (m == 0)
        {
            return default;
        }

        Span<double> d = detrended[..m];
        Span<double> phase = PhaseMeans(d, period, phaseSum);
        double sumD = TensorPrimitives.Sum(d);
        double ssd = TensorPrimitives.SumOfSquares(d) - (sumD * sumD / m);
        for (int start = 0; start < m; start += period)
        {
            int length = Math.Min(period, m - start);
            Span<double> cycle = d.Slice(start, length);
            TensorPrimitives.Subtract(cycle, phase[..length], cycle);
        }

        double ssr = TensorPrimitives.SumOfSquares(d);
        double lagged = TensorPrimitives.Dot(d[1..], d[..^1]);
        return new SeasonFit(ssd, ssr, ssr > 0 ? lagged / ssr : 0, m);
    }

    /// <summary>
    /// Nested F statistic of a long period q (a multiple of p) against its divisor p, both fitted on the same
    /// series detrended with the moving average of q, so that the two residual sums of squares are comparable;
    /// deflated by the long fit's remainder autocorrelation.
    /// </summary>
    public static (double F, int Df1, int Df2) NestedF(
        ReadOnlySpan<double> y, ReadOnlySpan<double> prefix, int shortPeriod, int longPeriod, Span<double> detrended, Span<double> phaseSum)
    {
        SeasonFit longFit = Fit(y, prefix, longPeriod, detrended, phaseSum);
        if (longFit.Length == 0)
        {
            return (0, 1, 1);
        }

        int m = Detrend(y, prefix, longPeriod, detrended);
        ReadOnlySpan<double> d = detrended[..m];
        PhaseSums(d, shortPeriod, phaseSum);
        // Within-phase sum of squares of the short period on the long period's detrending: its phase means absorb
        // the mean just as the long fit's do, so the two remainders are directly comparable.
        double ssrShort = TensorPrimitives.SumOfSquares(d) - Explained(phaseSum, shortPeriod, m);
        int df1 = longPeriod - shortPeriod;
        int df2 = m - longPeriod;
        if (df2 < 1 || longFit.Remainder <= 0)
        {
            return (longFit.Remainder <= 0 && ssrShort > 0 ? double.PositiveInfinity : 0, df1, Math.Max(df2, 1));
        }

        double f = ((ssrShort - longFit.Remainder) / df1) / (longFit.Remainder / df2);
        double rho = Math.Clamp(longFit.Lag1, 0, 0.99);
        return (f * (1 - rho) / (1 + rho), df1, df2);
    }

    /// <summary>
    /// F statistic (already deflated by the remainder's autocorrelation) of a longer period k * P modelled as the
    /// P-profile with its own level and amplitude in each of the k sub-cycles: how weekdays differ on hourly data.
    /// 2k - 2 parameters instead of the (k - 1) P of a free k * P profile, so four weeks suffice to see a weekend.
    /// The series is detrended with the moving average of k * P, which keeps the sub-cycle levels (a one-period
    /// average would follow them).
    /// </summary>
    public static (double F, int Df1, int Df2) SubCycleF(
        ReadOnlySpan<double> y, ReadOnlySpan<double> prefix, int period, int cycles, Span<double> detrended, Span<double> phaseSum)
    {
        int longPeriod = period * cycles;
        int n = y.Length;
        int h = longPeriod >> 1;
        int m = n - (2 * h);
        int df1 = (2 * cycles) - 2;
        int df2 = m - period - (2 * cycles);
        if (cycles < 2 || cycles > MaxSubCycles || df2 < 1 || Detrend(y, prefix, longPeriod, detrended) == 0)
        {
            return (0, 1, 1);
        }

        Span<double> d = detrended[..m];
        Span<double> phase = PhaseMeans(d, period, phaseSum);

        // Per sub-cycle c (index of the P-block in absolute time, so that blocks are whole days): regress the
        // remainder on a level and on the P-profile.
        Span<double> stats = stackalloc double[5 * MaxSubCycles];
        stats.Clear();
        double ssr = 0;
        double lagged = 0;
        double previous = 0;
        for (int i = 0; i < m; i++)
        {
            double seasonal = phase[i % period];
            double r = d[i] - seasonal;
            ssr += r * r;
            lagged += r * previous;
            previous = r;
            int at = 5 * (((i + h) / period) % cycles);
            stats[at]++;
            stats[at + 1] += r;
            stats[at + 2] += seasonal;
            stats[at + 3] += seasonal * seasonal;
            stats[at + 4] += r * seasonal;
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
}
