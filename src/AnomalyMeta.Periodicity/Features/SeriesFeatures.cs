using System.Numerics.Tensors;

namespace AnomalyMeta.Periodicity;

/// <summary>
/// Per-series features for clustering, all scale-free (a series and 1000 times it have the same features):
/// periods, seasonal and trend strength (Hyndman's STL features), noise level, spectral entropy, remainder
/// autocorrelation, linearity, missing share, harmonic shape of the daily (primary) profile, peakiness and skewness.
/// </summary>
/// <remarks>
/// Thread-safe: buffers live in a per-thread workspace and are reused, so nothing is allocated per series once they
/// have grown to the longest series. Shape features are phase-free, since series need not start at the same hour.
/// </remarks>
public static class SeriesFeatures
{
    /// <summary>Number of features written by <see cref="Extract"/>.</summary>
    public const int Count = 14;

    /// <summary>Feature names, in order (for reports and JSON).</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "log_primary_period", "log_secondary_period", "seasonal_strength", "trend_strength", "noise_level",
        "spectral_entropy", "remainder_acf1", "linearity", "missing_share", "harmonic1_share", "harmonic2_share",
        "profile_peakiness", "remainder_skewness", "period_strength",
    ];

    [ThreadStatic]
    private static FeatureWorkspace? _workspace;

    /// <summary>The calling thread's workspace (used by <see cref="PeriodDetector.DetectWithFeatures"/> to skip preparation).</summary>
    internal static FeatureWorkspace Workspace => _workspace ??= new FeatureWorkspace();

    /// <summary>
    /// Writes the <see cref="Count"/> features of <paramref name="values"/> (NaN = missing) into
    /// <paramref name="features"/>, using the periods found by <see cref="PeriodDetector"/>.
    /// </summary>
    public static void Extract(ReadOnlySpan<float> values, PeriodEstimate period, Span<float> features)
    {
        if (features.Length < Count)
        {
            throw new ArgumentException($"features needs {Count} elements, found {features.Length}.", nameof(features));
        }

        Workspace.Extract(values, period, features[..Count]);
    }

    internal sealed class FeatureWorkspace
    {
        private float[] _y = [];
        private float[] _scratch = [];
        private double[] _yDouble = [];
        private double[] _prefix = [];
        private double[] _work = [];
        private double[] _phase = [];
        private float[] _power = [];
        private float[] _shares = [];
        private float[] _logShares = [];
        private readonly Periodogram.Workspace _fft = new();

        public void Extract(ReadOnlySpan<float> values, PeriodEstimate period, Span<float> features)
        {
            features.Clear();
            int n = values.Length;
            if (n < 4)
            {
                features[8] = 1f;
                return;
            }

            Grow(n);
            Span<float> y = _y.AsSpan(0, n);
            int observed = SeriesPreparation.FillGaps(values, y);
            features[8] = 1f - ((float)observed / n);
            if (observed < 4)
            {
                return;
            }

            SeriesPreparation.RemoveSpikes(y, _scratch);
            Span<double> yDouble = _yDouble.AsSpan(0, n);
            TensorPrimitives.ConvertChecked<float, double>(y, yDouble);
            Span<double> prefix = _prefix.AsSpan(0, n + 1);
            SeasonalDecomposition.PrefixSums(yDouble, prefix);
            Describe(y, yDouble, prefix, spectralPower: default, period, features);
        }

        /// <summary>
        /// Features of a gap-filled, de-spiked series <paramref name="y"/> (also as doubles with running sums).
        /// <paramref name="spectralPower"/> is its periodogram (bins 0..N/2 of the linearly detrended series) when
        /// the caller already has it; empty to compute it here.
        /// </summary>
        public void Describe(
            ReadOnlySpan<float> y, ReadOnlySpan<double> yDouble, ReadOnlySpan<double> prefix, ReadOnlySpan<float> spectralPower,
            PeriodEstimate period, Span<float> features)
        {
            int n = y.Length;
            Grow(n);
            float mean = TensorPrimitives.Sum(y) / n;
            float std = MathF.Sqrt(MathF.Max((TensorPrimitives.SumOfSquares(y) / n) - (mean * mean), 0f));
            features[0] = MathF.Log(1f + period.PrimaryPeriod);
            features[1] = MathF.Log(1f + period.SecondaryPeriod);
            features[13] = period.Strength;
            if (!(std > 1e-12f * (MathF.Abs(mean) + 1f)))
            {
                // Constant series: nothing else to describe.
                return;
            }

            // Linear fit on the standardised series: slope over the whole length, in standard deviations.
            double meanT = (n - 1) / 2.0;
            double sumTY = 0;
            for (int t = 0; t < n; t++)
            {
                sumTY += (t - meanT) * (y[t] - mean);
            }

            double slope = sumTY / std / (n * (((double)n * n) - 1) / 12.0);
            features[7] = (float)Math.Clamp(slope * n, -10, 10);
            if (spectralPower.IsEmpty)
            {
                Span<float> z = _scratch.AsSpan(0, n);
                for (int t = 0; t < n; t++)
                {
                    z[t] = (float)(((y[t] - mean) / std) - (slope * (t - meanT)));
                }

                int fftLength = Periodogram.Compute(z, n, _fft, _power);
                spectralPower = _power.AsSpan(0, (fftLength / 2) + 1);
            }

            features[5] = SpectralEntropy(spectralPower);

            int season = period.SeasonLength;
            int m = season >= 2 ? SeasonalDecomposition.Detrend(yDouble, prefix, season, _work) : 0;
            if (m == 0 && period.PrimaryPeriod >= 2 && period.PrimaryPeriod != season)
            {
                season = period.PrimaryPeriod;
                m = SeasonalDecomposition.Detrend(yDouble, prefix, season, _work);
            }

            if (m == 0)
            {
                // No usable season: a short odd moving average gives trend and remainder.
                season = Math.Clamp(n / 10, 1, 12);
                season = (2 * season) + 1;
                m = season < n / 2 ? SeasonalDecomposition.Detrend(yDouble, prefix, season, _work) : 0;
                if (m == 0)
                {
                    return;
                }

                Describe(yDouble, _work.AsSpan(0, m), season, seasonal: false, period.PrimaryPeriod, std, features);
                return;
            }

            Describe(yDouble, _work.AsSpan(0, m), season, seasonal: true, period.PrimaryPeriod, std, features);
        }

        /// <summary>Strength, noise and shape features from the detrended points d (window of <paramref name="season"/>).</summary>
        private void Describe(
            ReadOnlySpan<double> y, Span<double> detrended, int season, bool seasonal, int primary, float std, Span<float> features)
        {
            int m = detrended.Length;
            int h = season >> 1;
            Span<double> phase = _phase.AsSpan(0, season);
            if (seasonal)
            {
                SeasonalDecomposition.PhaseSums(detrended, season, phase);
                int fullCycles = m / season;
                int extra = m % season;
                TensorPrimitives.Divide(phase[..extra], fullCycles + 1, phase[..extra]);
                TensorPrimitives.Divide(phase[extra..], fullCycles, phase[extra..]);
                double phaseMean = TensorPrimitives.Sum(phase) / season;
                TensorPrimitives.Subtract(phase, phaseMean, phase);
            }
            else
            {
                phase.Clear();
            }

            // var(S + R) = var(d); var(R) after removing the profile; var(T + R) = var(y - S).
            double varianceDetrended = Variance(detrended);
            double sumR = 0;
            double sumR2 = 0;
            double sumR3 = 0;
            double lagged = 0;
            double previousR = 0;
            double sumTR = 0;
            double sumTR2 = 0;
            for (int i = 0; i < m; i++)
            {
                double s = phase[i % season];
                double r = detrended[i] - s;
                sumR += r;
                sumR2 += r * r;
                sumR3 += r * r * r;
                if (i > 0)
                {
                    lagged += r * previousR;
                }

                previousR = r;
                double trendPlusRemainder = y[i + h] - s;
                sumTR += trendPlusRemainder;
                sumTR2 += trendPlusRemainder * trendPlusRemainder;
            }

            double meanR = sumR / m;
            double varianceR = Math.Max((sumR2 / m) - (meanR * meanR), 0);
            double meanTR = sumTR / m;
            double varianceTR = Math.Max((sumTR2 / m) - (meanTR * meanTR), 1e-300);
            features[2] = seasonal && varianceDetrended > 0 ? (float)Math.Clamp(1 - (varianceR / varianceDetrended), 0, 1) : 0f;
            features[3] = (float)Math.Clamp(1 - (varianceR / varianceTR), 0, 1);
            features[4] = (float)Math.Min(Math.Sqrt(varianceR) / std, 10);
            features[6] = varianceR > 0 ? (float)Math.Clamp(((lagged / (m - 1)) - (meanR * meanR)) / varianceR, -1, 1) : 0f;
            if (varianceR > 0)
            {
                double centred3 = (sumR3 / m) - (3 * meanR * (sumR2 / m)) + (2 * meanR * meanR * meanR);
                features[12] = (float)Math.Clamp(centred3 / Math.Pow(varianceR, 1.5), -5, 5);
            }

            if (!seasonal || primary < 2)
            {
                return;
            }

            // Daily (primary) profile folded from the season's profile: its harmonic shares and its peak-to-trough.
            Span<double> profile = stackalloc double[Math.Min(primary, 4096)];
            if (profile.Length != primary)
            {
                return;
            }

            profile.Clear();
            // Profile index i of the season corresponds to time i + h, so the primary phase is (i + h) mod primary.
            for (int i = 0; i < season; i++)
            {
                profile[(i + h) % primary] += phase[i];
            }

            TensorPrimitives.Divide(profile, season / primary, profile);
            double total = TensorPrimitives.SumOfSquares(profile);
            if (total <= 0)
            {
                return;
            }

            features[9] = (float)(HarmonicEnergy(profile, 1) / total);
            features[10] = (float)(HarmonicEnergy(profile, 2) / total);
            features[11] = (float)Math.Min((TensorPrimitives.Max(profile) - TensorPrimitives.Min(profile)) / std, 20);
        }

        /// <summary>Energy of harmonic k in the profile (Parseval-scaled so that all harmonics sum to the total).</summary>
        private static double HarmonicEnergy(ReadOnlySpan<double> profile, int k)
        {
            int p = profile.Length;
            if (2 * k > p)
            {
                return 0;
            }

            double re = 0;
            double im = 0;
            double step = 2 * Math.PI * k / p;
            for (int j = 0; j < p; j++)
            {
                re += profile[j] * Math.Cos(step * j);
                im += profile[j] * Math.Sin(step * j);
            }

            double energy = ((re * re) + (im * im)) / p;
            return 2 * k == p ? energy : 2 * energy;
        }

        /// <summary>Shannon entropy of the normalised periodogram over log(bins): 1 for white noise, near 0 for a pure tone.</summary>
        private float SpectralEntropy(ReadOnlySpan<float> spectrum)
        {
            // Bins 1..N/2-1: the mean (bin 0) is removed by detrending and the Nyquist bin is counted once.
            ReadOnlySpan<float> power = spectrum[1..^1];
            float total = TensorPrimitives.Sum(power);
            if (!(total > 0f) || power.Length < 2)
            {
                return 0f;
            }

            if (_shares.Length < power.Length)
            {
                _shares = new float[power.Length];
                _logShares = new float[power.Length];
            }

            Span<float> shares = _shares.AsSpan(0, power.Length);
            Span<float> logShares = _logShares.AsSpan(0, power.Length);
            TensorPrimitives.Multiply(power, 1f / total, shares);
            // An empty bin adds nothing (s ln s goes to 0); the floor keeps its logarithm finite.
            TensorPrimitives.Max(shares, 1e-30f, shares);
            TensorPrimitives.Log(shares, logShares);
            return -TensorPrimitives.Dot(shares, logShares) / MathF.Log(power.Length);
        }

        private static double Variance(ReadOnlySpan<double> values)
        {
            double mean = TensorPrimitives.Sum(values) / values.Length;
            return Math.Max((TensorPrimitives.SumOfSquares(values) / values.Length) - (mean * mean), 0);
        }

        private void Grow(int n)
        {
            if (_y.Length >= n)
            {
                return;
            }

            _y = new float[n];
            _scratch = new float[n];
            _yDouble = new double[n];
            _prefix = new double[n + 1];
            _work = new double[n];
            _phase = new double[n];
            _power = new float[(int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)n) + 1];
        }
    }
}
