namespace AnomalyMeta.Periodicity;

/// <summary>
/// Least-squares fit of the first few harmonics of a period (fractional phase, any integer period): a sharp
/// criterion for the exact period length, unlike the phase-mean strength whose P phase means each rest on n / P points.
/// </summary>
internal static class HarmonicFit
{
    public const int MaxHarmonics = 3;

    /// <summary>Variance of <paramref name="z"/> explained by harmonics 1..H of <paramref name="period"/> (sum of squares).</summary>
    /// <param name="z">The series.</param>
    /// <param name="period">The period, at least 1.</param>
    /// <param name="phaseSums">Scratch of at least <paramref name="period"/> elements.</param>
    public static double Explained(ReadOnlySpan<float> z, int period, Span<double> phaseSums)
    {
        int harmonics = Math.Min(MaxHarmonics, (period - 1) / 2);
        if (harmonics < 1)
        {
            return 0;
        }

        int size = 2 * harmonics;
        int n = z.Length;
        double omega = 2.0 * Math.PI / period;

        // cos(h w t) repeats every period: the projections b = [sum z cos(h w t), sum z sin(h w t)] are those of the
        // series folded onto one period, so the phasors (rotated, no trig in the loop) turn period times, not n times.
        // Each turn waits for the last one; folding is independent adds.
        Span<double> folded = phaseSums[..period];
        folded.Clear();
        for (int start = 0; start < n; start += period)
        {
            ReadOnlySpan<float> cycle = z.Slice(start, Math.Min(period, n - start));
            for (int phase = 0; phase < cycle.Length; phase++)
            {
                folded[phase] += cycle[phase];
            }
        }

        Span<double> projection = stackalloc double[2 * MaxHarmonics];
        Span<double> cosStep = stackalloc double[MaxHarmonics];
        Span<double> sinStep = stackalloc double[MaxHarmonics];
        Span<double> cosNow = stackalloc double[MaxHarmonics];
        Span<double> sinNow = stackalloc double[MaxHarmonics];
        for (int h = 0; h < harmonics; h++)
        {
            cosStep[h] = Math.Cos((h + 1) * omega);
            sinStep[h] = Math.Sin((h + 1) * omega);
            cosNow[h] = 1;
            sinNow[h] = 0;
            projection[2 * h] = 0;
            projection[(2 * h) + 1] = 0;
        }

        for (int t = 0; t < period; t++)
        {
            double v = folded[t];
            for (int h = 0; h < harmonics; h++)
            {
                double c = cosNow[h];
                double s = sinNow[h];
                projection[2 * h] += v * c;
                projection[(2 * h) + 1] += v * s;
                cosNow[h] = (c * cosStep[h]) - (s * sinStep[h]);
                sinNow[h] = (s * cosStep[h]) + (c * sinStep[h]);
            }
        }

        // Gram matrix in closed form from the sums of cos(k w t) and sin(k w t), k = 0..2H.
        Span<double> sumCos = stackalloc double[(2 * MaxHarmonics) + 1];
        Span<double> sumSin = stackalloc double[(2 * MaxHarmonics) + 1];
        for (int k = 0; k <= 2 * harmonics; k++)
        {
            double theta = k * omega;
            double half = Math.Sin(theta / 2);
            if (Math.Abs(half) < 1e-12)
            {
                sumCos[k] = n;
                sumSin[k] = 0;
                continue;
            }

            double amplitude = Math.Sin(n * theta / 2) / half;
            double centre = theta * (n - 1) / 2;
            sumCos[k] = amplitude * Math.Cos(centre);
            sumSin[k] = amplitude * Math.Sin(centre);
        }

        Span<double> gram = stackalloc double[4 * MaxHarmonics * MaxHarmonics];
        for (int a = 0; a < harmonics; a++)
        {
            for (int b = 0; b < harmonics; b++)
            {
                int plus = a + b + 2;
                int minus = Math.Abs(a - b);
                double minusSin = a >= b ? sumSin[minus] : -sumSin[minus];
                gram[(2 * a * size) + (2 * b)] = 0.5 * (sumCos[minus] + sumCos[plus]);
                gram[(((2 * a) + 1) * size) + (2 * b) + 1] = 0.5 * (sumCos[minus] - sumCos[plus]);
                // sum cos(a' w t) sin(b' w t) = (S(a' + b') - S(a' - b')) / 2 with a' = a + 1, b' = b + 1.
                gram[(2 * a * size) + (2 * b) + 1] = 0.5 * (sumSin[plus] - minusSin);
                gram[(((2 * a) + 1) * size) + (2 * b)] = 0.5 * (sumSin[plus] + minusSin);
            }
        }

        return SolveQuadratic(gram[..(size * size)], projection[..size], size);
    }

    /// <summary>b' G^-1 b by Cholesky; a singular direction contributes nothing.</summary>
    private static double SolveQuadratic(Span<double> gram, Span<double> b, int size)
    {
        for (int j = 0; j < size; j++)
        {
            double diagonal = gram[(j * size) + j];
            for (int k = 0; k < j; k++)
            {
                diagonal -= gram[(j * size) + k] * gram[(j * size) + k];
            }

            if (diagonal <= 1e-9)
            {
                for (int i = j; i < size; i++)
                {
                    gram[(i * size) + j] = 0;
                }

                continue;
            }

            double root = Math.Sqrt(diagonal);
            gram[(j * size) + j] = root;
            for (int i = j + 1; i < size; i++)
            {
                double value = gram[(i * size) + j];
                for (int k = 0; k < j; k++)
                {
                    value -= gram[(i * size) + k] * gram[(j * size) + k];
                }

                gram[(i * size) + j] = value / root;
            }
        }

        // Forward substitution L y = b; b' G^-1 b = |y|^2.
        double explained = 0;
        for (int i = 0; i < size; i++)
        {
            double diagonal = gram[(i * size) + i];
            if (diagonal == 0)
            {
                b[i] = 0;
                continue;
            }

            double value = b[i];
            for (int k = 0; k < i; k++)
            {
                value -= gram[(i * size) + k] * b[k];
            }

            b[i] = value / diagonal;
            explained += b[i] * b[i];
        }

        return explained;
    }
}
