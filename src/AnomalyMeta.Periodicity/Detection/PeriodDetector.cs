using System.Numerics;
using System.Numerics.Tensors;

namespace AnomalyMeta.Periodicity;

/// <summary>
/// Finds the primary and secondary period of a series. Candidates come from periodogram peaks (each refined on the
/// autocorrelation hill around it, as in AUTOPERIOD, Vlachos et al. 2005) and from autocorrelation peaks; each
/// candidate is confirmed or rejected by the seasonal strength of a moving-average decomposition, which is robust to
/// trends and level shifts. Gaps (NaN) are interpolated and isolated spikes removed first.
/// </summary>
/// <remarks>
/// Not thread-safe: an instance reuses its buffers between calls, so nothing is allocated per series once the
/// buffers have grown to the longest series. Use one detector per thread (for example a
/// <c>ThreadLocal&lt;PeriodDetector&gt;</c> or one per <c>Parallel.For</c> partition via its local-state overload).
/// </remarks>
public sealed class PeriodDetector
{
    private const int MaxCandidates = 64;

    // A season explaining this share over at least this many cycles skips the autocorrelation deflation.
    private const double StrongSeasonShare = 0.5;
    private const int StrongSeasonCycles = 8;

    // Autocorrelation a divisor needs before its decomposition is computed.
    private const float DivisorMinAutocorrelation = 0.2f;

    // Below this the candidates' phase-mean strength is sharp enough (many cycles) and the refinement is skipped.
    private const int MinRefinedPeriod = 40;

    // Strength a refined period may lose against the best candidate and still replace it.
    private const double SnapMargin = 0.02;

    // Strength a calendar period may lose: a few cycles cannot tell 51, 52 and 53 apart at high noise.
    private const double PreferredMargin = 0.05;

    // Relative distance within which a calendar period replaces the best candidate.
    private const double PreferredTolerance = 0.025;

    // Strengths closer than this are a tie (the adjusted strength of a multiple differs from its base by noise).
    private const double TieMargin = 0.01;

    // Divisors tried for the primary period: enough for 24 in 168 or 12 in 144, bounded for throughput.
    private const int MaxDivisorFactor = 24;


    private readonly PeriodDetectorOptions _options;
    private readonly PeriodDetector? _recentHalf;
    private readonly int[] _candidatePeriods = new int[MaxCandidates];
    private readonly double[] _candidateStrengths = new double[MaxCandidates];
    private int _candidateCount;
    private float[] _y = [];
    private double[] _yDouble = [];
    private double[] _work = [];
    private float[] _scratch = [];
    private double[] _prefix = [];
    private double[] _phase = [];
    private float[] _detrended = [];
    private readonly Periodogram.Workspace _fft = new();
    private float[] _power = [];
    private float[] _acf = [];
    private float[] _acfPadded = [];
    private float[] _ramp = [];
    private int _rampLength;
    private int _length;

    // What the last Detect left ready for DetectWithFeatures: filled series (length), its observed points and
    // the transform length of its periodogram (0 when none was computed).
    private int _preparedLength;
    private int _preparedObserved;
    private int _preparedFftLength;
    private int _acfLimit;
    private float _inverseVariance;

    /// <summary>
    /// Turns off MathNet's parallelism inside one transform (process-wide): detection runs in parallel over series,
    /// and for lengths of 1024 and more MathNet would otherwise split each transform into tasks, three times slower
    /// per series and allocating on every call.
    /// </summary>
    static PeriodDetector()
    {
        MathNet.Numerics.Control.MaxDegreeOfParallelism = 1;
    }

    /// <summary>Creates a detector; the options are validated here.</summary>
    public PeriodDetector(PeriodDetectorOptions options)
        : this(options, lookAtRecentHalf: true)
    {
    }

    // The recent-half detector has its own buffers, so the whole series stays prepared for DetectWithFeatures.
    private PeriodDetector(PeriodDetectorOptions options, bool lookAtRecentHalf)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _recentHalf = lookAtRecentHalf && options.RecentRegimeMinCycles > 0
            ? new PeriodDetector(options, lookAtRecentHalf: false)
            : null;
    }

    /// <summary>
    /// Detects the periods and writes the <see cref="SeriesFeatures"/> in one go, reusing the detector's gap-filled
    /// series and periodogram (about a third cheaper than <see cref="Detect"/> then <see cref="SeriesFeatures.Extract"/>,
    /// with the same features up to float rounding).
    /// </summary>
    public PeriodEstimate DetectWithFeatures(ReadOnlySpan<float> values, Span<float> features)
    {
        if (features.Length < SeriesFeatures.Count)
        {
            throw new ArgumentException($"features needs {SeriesFeatures.Count} elements, found {features.Length}.", nameof(features));
        }

        PeriodEstimate estimate = Detect(values);
        if (_preparedLength != values.Length || _preparedFftLength == 0)
        {
            SeriesFeatures.Extract(values, estimate, features);
            return estimate;
        }

        int n = _preparedLength;
        Span<float> output = features[..SeriesFeatures.Count];
        output.Clear();
        output[8] = 1f - ((float)_preparedObserved / n);
        SeriesFeatures.Workspace.Describe(
            _y.AsSpan(0, n), _yDouble.AsSpan(0, n), _prefix.AsSpan(0, n + 1),
            _power.AsSpan(0, (_preparedFftLength / 2) + 1), estimate, output);
        return estimate;
    }

    /// <summary>Detects the periods of <paramref name="values"/>; NaN (or any non-finite value) marks a missing point.</summary>
    /// <remarks>
    /// A series found aperiodic as a whole gets a second look at its recent half: a cycle that drifted or changed
    /// (24.3 points for weeks, then 24) smears the spectrum of the whole series, yet scoring adapts on the last
    /// season only, so the current regime is what matters. The look must not invent periods in noise, so the recent
    /// half must hold at least <see cref="PeriodDetectorOptions.RecentRegimeMinPoints"/> observed points and its period
    /// must repeat at least <see cref="PeriodDetectorOptions.RecentRegimeMinCycles"/> times there: random walks fake
    /// long "periods" of a few cycles in half a series, and short periods of many cycles in short halves.
    /// </remarks>
    public PeriodEstimate Detect(ReadOnlySpan<float> values)
    {
        PeriodEstimate whole = DetectWhole(values);
        if (whole.Status != PeriodStatus.Aperiodic || _recentHalf is null)
        {
            return whole;
        }

        ReadOnlySpan<float> recent = values[(values.Length / 2)..];
        int observed = SeriesPreparation.CountObserved(recent);
        int minCycles = _options.RecentRegimeMinCycles;
        if (observed < _options.RecentRegimeMinPoints)
        {
            return whole;
        }

        PeriodEstimate current = _recentHalf.Detect(recent);
        if (current.Status != PeriodStatus.Periodic || observed < minCycles * current.PrimaryPeriod)
        {
            return whole;
        }

        // The same floor for a secondary period: two weeks in a 336-point half are not a weekly pattern.
        return observed >= minCycles * current.SecondaryPeriod ? current : current with { SecondaryPeriod = 0 };
    }

    private PeriodEstimate DetectWhole(ReadOnlySpan<float> values)
    {
        _preparedLength = 0;
        _preparedFftLength = 0;
        int n = values.Length;
        if (n < _options.MinLength || n < 2 * _options.ExpectedPeriod)
        {
            return new PeriodEstimate(PeriodStatus.TooShort, 0, 0, 0f);
        }

        EnsureCapacity(n);
        _length = n;
        Span<float> y = _y.AsSpan(0, n);
        int observed = SeriesPreparation.FillGaps(values, y);
        if (observed < _options.MinLength || observed < 2 * _options.ExpectedPeriod)
        {
            return new PeriodEstimate(PeriodStatus.TooShort, 0, 0, 0f);
        }

        SeriesPreparation.RemoveSpikes(y, _scratch);
        Span<double> yDouble = _yDouble.AsSpan(0, n);
        TensorPrimitives.ConvertChecked(y, yDouble);
        // The moving-average trend eats one period and the phase means need two more: periods up to n / 3.
        int maxPeriod = Math.Min(_options.MaxPeriod, n / 3);
        SeasonalDecomposition.PrefixSums(yDouble, _prefix.AsSpan(0, n + 1));
        _preparedLength = n;
        _preparedObserved = observed;
        _candidateCount = 0;

        if (!CollectSpectralCandidates(y, maxPeriod))
        {
            return new PeriodEstimate(PeriodStatus.Aperiodic, 0, 0, 0f);
        }

        foreach (int hint in _options.HintPeriods)
        {
            Strength(hint, maxPeriod);
        }

        int best = 0;
        double bestStrength = -1;
        for (int i = 0; i < _candidateCount; i++)
        {
            // Near-ties go to the shorter period: 168 and 336 fit a weekly series equally well.
            if (_candidateStrengths[i] > bestStrength + TieMargin
                || (_candidateStrengths[i] > bestStrength - TieMargin && _candidatePeriods[i] < best))
            {
                bestStrength = _candidateStrengths[i];
                best = _candidatePeriods[i];
            }
        }

        if (best > 0 && bestStrength >= _options.MinStrength)
        {
            bool snapped = SnapToPreferred(ref best, ref bestStrength, maxPeriod);
            if (!snapped && best >= MinRefinedPeriod)
            {
                // Candidates from the spectrum can be a point or two off at long periods, where the strength is
                // flat. The harmonic fit is sharper but sees only the first harmonics, so a move that loses
                // strength (the daily cycle inside a weekly one) is refused.
                int refined = RefineByHarmonics(best, maxPeriod);
                double refinedStrength = Strength(refined, maxPeriod);
                if (refined != best && refinedStrength >= bestStrength - SnapMargin)
                {
                    best = refined;
                    bestStrength = refinedStrength;
                    SnapToPreferred(ref best, ref bestStrength, maxPeriod);
                }
            }
        }

        if (best == 0 || bestStrength < _options.MinStrength)
        {
            return new PeriodEstimate(PeriodStatus.Aperiodic, 0, 0, (float)Math.Max(bestStrength, 0));
        }

        // The primary period is the shortest (near-)divisor of the best one that keeps most of its strength: 24
        // inside 168, or inside 166 when the best candidate is a couple of points off.
        int primary = best;
        double primaryStrength = bestStrength;
        double divisorFloor = Math.Max(_options.MinStrength, _options.DivisorStrengthRatio * bestStrength);
        int tolerance = Math.Max(1, best / 40);
        for (int k = Math.Min(MaxDivisorFactor, best / _options.MinPeriod); k >= 2; k--)
        {
            int d = (int)Math.Round((double)best / k);
            // A real shorter period shows in the autocorrelation; skip the decomposition for the others.
            if (Math.Abs((k * d) - best) > tolerance || d < _options.MinPeriod || Acf(d) < DivisorMinAutocorrelation)
            {
                continue;
            }

            double s = Strength(d, maxPeriod);
            if (s >= divisorFloor)
            {
                primary = d;
                primaryStrength = s;
                // Half of a best candidate 574 is 287: the calendar check applies to the divisor too.
                SnapToPreferred(ref primary, ref primaryStrength, maxPeriod);
                break;
            }
        }

        // Tested on the primary period, which has the most cycles and so the most degrees of freedom.
        if (!IsSignificant(primary, maxPeriod))
        {
            return new PeriodEstimate(PeriodStatus.Aperiodic, 0, 0, (float)primaryStrength);
        }

        for (int k = 2; k <= _options.MaxMultiple; k++)
        {
            Strength(k * primary, maxPeriod);
        }

        // Secondary: forward selection over the multiples of the primary in increasing order; a multiple replaces
        // the current choice only when it explains significantly more than it (nested F-test, or for multiples of
        // the primary the cheaper sub-cycle test), so 336 does not replace 168 on a weekly series.
        int secondary = 0;
        double secondaryStrength = primaryStrength;
        int current = primary;
        Span<int> multiples = stackalloc int[MaxCandidates];
        int multipleCount = 0;
        for (int i = 0; i < _candidateCount; i++)
        {
            int p = _candidatePeriods[i];
            if (p > primary && p % primary == 0 && _candidateStrengths[i] >= primaryStrength + _options.MinSecondaryGain)
            {
                multiples[multipleCount++] = p;
            }
        }

        multiples[..multipleCount].Sort();
        for (int i = 0; i < multipleCount; i++)
        {
            int p = multiples[i];
            double s = Strength(p, maxPeriod);
            if (p % current != 0 || s < secondaryStrength + _options.MinSecondaryGain)
            {
                continue;
            }

            if (IsNestedSignificant(current, p) || IsSubCycleSignificant(current, p / current))
            {
                secondary = p;
                secondaryStrength = s;
                current = p;
            }
        }

        float strength = (float)(secondary > 0 ? secondaryStrength : primaryStrength);
        return new PeriodEstimate(PeriodStatus.Periodic, primary, secondary, strength);
    }

    /// <summary>Calendar periods win over a neighbour that fits about as well: 288, not 287, in 5-minute data.</summary>
    private bool SnapToPreferred(ref int best, ref double bestStrength, int maxPeriod)
    {
        int snapDistance = Math.Max(1, (int)Math.Round(best * PreferredTolerance));
        foreach (int preferred in _options.PreferredPeriods)
        {
            if (Math.Abs(preferred - best) <= snapDistance)
            {
                double preferredStrength = Strength(preferred, maxPeriod);
                if (preferredStrength >= bestStrength - PreferredMargin)
                {
                    best = preferred;
                    bestStrength = preferredStrength;
                    return true;
                }
            }
        }

        return false;
    }

    private SeasonFit Fit(int period) =>
        SeasonalDecomposition.Fit(_yDouble.AsSpan(0, _length), _prefix.AsSpan(0, _length + 1), period, _work, _phase);

    /// <summary>
    /// F-test of the season against trend + noise, with the F statistic deflated by the remainder's
    /// autocorrelation: random walks and slow AR noise fit "seasons" of any long period, white noise does not.
    /// </summary>
    private bool IsSignificant(int period, int maxPeriod)
    {
        if (period > maxPeriod)
        {
            return false;
        }

        SeasonFit fit = Fit(period);
        if (fit.Length == 0 || fit.Remainder <= 0)
        {
            return fit.Length > 0 && fit.Detrended > 0;
        }

        int df1 = period - 1;
        int df2 = fit.Length - period;
        double f = ((fit.Detrended - fit.Remainder) / df1) / (fit.Remainder / df2);
        double explainedShare = 1 - (fit.Remainder / fit.Detrended);
        // A season that explains most of the variance over many cycles is real even when the remainder is smooth
        // (real hourly data); the autocorrelation deflation is for weak "seasons" seen in few cycles (random walks).
        bool strongAndRepeated = explainedShare >= StrongSeasonShare && fit.Length >= StrongSeasonCycles * period;
        return f * (strongAndRepeated ? 1 : Deflation(fit)) > CriticalF(df1, df2);
    }

    /// <summary>Nested F-test: does the longer period explain significantly more than the shorter one?</summary>
    private bool IsNestedSignificant(int shortPeriod, int longPeriod)
    {
        (double f, int df1, int df2) = SeasonalDecomposition.NestedF(
            _yDouble.AsSpan(0, _length), _prefix.AsSpan(0, _length + 1), shortPeriod, longPeriod, _work, _phase);
        return f > CriticalF(df1, df2);
    }

    private bool IsSubCycleSignificant(int period, int cycles)
    {
        (double f, int df1, int df2) = SeasonalDecomposition.SubCycleF(
            _yDouble.AsSpan(0, _length), _prefix.AsSpan(0, _length + 1), period, cycles, _work, _phase);
        return f > CriticalF(df1, df2);
    }

    /// <summary>(1 - rho) / (1 + rho): the share of remainder points that count as independent.</summary>
    private static double Deflation(in SeasonFit fit)
    {
        double rho = Math.Clamp(fit.Lag1, 0, 0.99);
        return (1 - rho) / (1 + rho);
    }

    /// <summary>
    /// About the 0.1% quantile of F(df1, df2): the chi-square quantile of df1 (Wilson-Hilferty, z = 3.09) over df1,
    /// widened by 1 + 4 / df2 for the estimated denominator. The normal approximation is far too lenient at the
    /// few degrees of freedom of the sub-cycle test.
    /// </summary>
    private static double CriticalF(int df1, int df2)
    {
        double k = Math.Max(df1, 1);
        double c = 2.0 / (9.0 * k);
        double root = 1.0 - c + (3.09 * Math.Sqrt(c));
        return root * root * root * (1.0 + (4.0 / Math.Max(df2, 1)));
    }

    /// <summary>Adds periodogram and autocorrelation candidates; false when the series is constant.</summary>
    private bool CollectSpectralCandidates(ReadOnlySpan<float> y, int maxPeriod)
    {
        int n = y.Length;
        Span<float> z = _detrended.AsSpan(0, n);
        LinearDetrend(y, z);
        float variance = TensorPrimitives.Dot(z, z);
        if (!(variance > 1e-20f * n) || maxPeriod < _options.MinPeriod)
        {
            return false;
        }

        int fftLength = Periodogram.Compute(z, n, _fft, _power);
        _preparedFftLength = fftLength;
        ReadOnlySpan<float> power = _power.AsSpan(0, (fftLength / 2) + 1);

        // Autocorrelation, exact (no circular wrap) and cheaper than the zero-padded inverse transform with MathNet's
        // managed FFT. The peak scan needs every lag up to AcfScanLimit: those come in one pass (Autocorrelation.Sums).
        // Longer lags only serve the hills of low-frequency periodogram peaks in long series, so they are computed
        // when asked for, one dot product each, and long series do not pay for the whole quadratic autocorrelation.
        int maxLag = Math.Min(maxPeriod + 1, n - 1);
        int scanned = Math.Min(maxLag, _options.AcfScanLimit + 1);
        _acfLimit = maxLag;
        _inverseVariance = 1f / variance;
        Span<float> acf = _acf.AsSpan(0, scanned + 1);
        Autocorrelation.Sums(z, scanned, _acfPadded, acf);
        TensorPrimitives.Multiply(acf, _inverseVariance, acf);
        acf[0] = 1f;
        _acf.AsSpan(scanned + 1, maxLag - scanned).Fill(float.NaN);

        int sources = _options.CandidatesPerSource;
        Span<int> topIndex = stackalloc int[sources];
        Span<float> topValue = stackalloc float[sources];

        // Periodogram peaks with a period in [MinPeriod, maxPeriod].
        int kLow = Math.Max(1, (int)Math.Ceiling((double)fftLength / maxPeriod));
        int kHigh = Math.Min(power.Length - 2, fftLength / _options.MinPeriod);
        int found = 0;
        for (int k = kLow; k <= kHigh; k++)
        {
            if (power[k] > power[k - 1] && power[k] >= power[k + 1])
            {
                found = InsertTop(topIndex, topValue, found, k, power[k]);
            }
        }

        for (int i = 0; i < found; i++)
        {
            // The bin's period range is [N/(k+1), N/(k-1)]: the autocorrelation hill inside it pins the period.
            int k = topIndex[i];
            int lagLow = Math.Max(_options.MinPeriod, fftLength / (k + 1));
            int lagHigh = Math.Min(maxPeriod, k > 1 ? (fftLength + k - 2) / (k - 1) : maxPeriod);
            int bestLag = -1;
            float bestAcf = float.NegativeInfinity;
            for (int lag = lagLow; lag <= lagHigh; lag++)
            {
                float value = Acf(lag);
                if (value > bestAcf)
                {
                    bestAcf = value;
                    bestLag = lag;
                }
            }

            bool onHill = bestLag > lagLow && bestLag < lagHigh;
            Strength(onHill ? bestLag : (int)Math.Round((double)fftLength / k), maxPeriod);
        }

        // Autocorrelation peaks.
        found = 0;
        int scanEnd = Math.Min(Math.Min(maxLag - 1, maxPeriod), _options.AcfScanLimit);
        for (int lag = _options.MinPeriod; lag <= scanEnd; lag++)
        {
            float value = Acf(lag);
            if (value > 0f && value > Acf(lag - 1) && value >= Acf(lag + 1))
            {
                found = InsertTop(topIndex, topValue, found, lag, value);
            }
        }

        for (int i = 0; i < found; i++)
        {
            Strength(topIndex[i], maxPeriod);
        }

        return true;
    }

    /// <summary>
    /// Moves <paramref name="period"/> to the neighbouring integer period whose first harmonics explain the most
    /// variance (least squares, <see cref="HarmonicFit"/>), climbing one point at a time within 2.5%.
    /// </summary>
    private int RefineByHarmonics(int period, int maxPeriod)
    {
        ReadOnlySpan<float> z = _detrended.AsSpan(0, _length);
        int radius = Math.Max(1, period / 40);
        int low = Math.Max(_options.MinPeriod, period - radius);
        int high = Math.Min(maxPeriod, period + radius);
        double here = HarmonicFit.Explained(z, period, _phase);
        double below = period > low ? HarmonicFit.Explained(z, period - 1, _phase) : double.NegativeInfinity;
        double above = period < high ? HarmonicFit.Explained(z, period + 1, _phase) : double.NegativeInfinity;
        int direction = below > here && below >= above ? -1 : above > here ? 1 : 0;
        if (direction == 0)
        {
            return period;
        }

        int best = period + direction;
        double bestScore = Math.Max(below, above);
        while (best + direction >= low && best + direction <= high)
        {
            double next = HarmonicFit.Explained(z, best + direction, _phase);
            if (next <= bestScore)
            {
                break;
            }

            best += direction;
            bestScore = next;
        }

        return best;
    }

    /// <summary>Autocorrelation of the linearly detrended series at <paramref name="lag"/> (0 beyond the computed range).</summary>
    private float Acf(int lag)
    {
        if (lag < 0 || lag > _acfLimit)
        {
            return 0f;
        }

        float value = _acf[lag];
        if (float.IsNaN(value))
        {
            ReadOnlySpan<float> z = _detrended.AsSpan(0, _length);
            value = TensorPrimitives.Dot(z[..(_length - lag)], z[lag..]) * _inverseVariance;
            _acf[lag] = value;
        }

        return value;
    }

    /// <summary>Keeps the largest values in descending order; returns the new count.</summary>
    private static int InsertTop(Span<int> index, Span<float> value, int count, int candidate, float score)
    {
        int capacity = index.Length;
        int position = count;
        while (position > 0 && value[position - 1] < score)
        {
            position--;
        }

        if (position >= capacity)
        {
            return count;
        }

        int last = Math.Min(count, capacity - 1);
        for (int i = last; i > position; i--)
        {
            index[i] = index[i - 1];
            value[i] = value[i - 1];
        }

        index[position] = candidate;
        value[position] = score;
        return Math.Min(count + 1, capacity);
    }

    /// <summary>Cached adjusted strength of a period for the current series; -1 when out of range.</summary>
    private double Strength(int period, int maxPeriod)
    {
        if (period < _options.MinPeriod || period > maxPeriod)
        {
            return -1;
        }

        for (int i = 0; i < _candidateCount; i++)
        {
            if (_candidatePeriods[i] == period)
            {
                return _candidateStrengths[i];
            }
        }

        double strength = SeasonalDecomposition.AdjustedStrength(
            _yDouble.AsSpan(0, _length), _prefix.AsSpan(0, _length + 1), period, _work, _phase);
        if (_candidateCount < MaxCandidates)
        {
            _candidatePeriods[_candidateCount] = period;
            _candidateStrengths[_candidateCount] = strength;
            _candidateCount++;
        }

        return strength;
    }

    /// <summary>
    /// The series minus its least-squares line, vectorised: the mean is taken off first, so the slope's dot product
    /// works on small centred values and float sums lose nothing that matters to the spectrum.
    /// </summary>
    private void LinearDetrend(ReadOnlySpan<float> y, Span<float> output)
    {
        int n = y.Length;
        Span<float> ramp = _ramp.AsSpan(0, n);
        if (_rampLength != n)
        {
            // t minus the mean time, for t = 0..n-1.
            float meanT = (n - 1) / 2f;
            for (int t = 0; t < n; t++)
            {
                ramp[t] = t - meanT;
            }

            _rampLength = n;
        }

        TensorPrimitives.Subtract(y, TensorPrimitives.Sum(y) / n, output);
        double sumTT = n * (((double)n * n) - 1) / 12.0;
        float slope = (float)(TensorPrimitives.Dot(ramp, output) / sumTT);
        TensorPrimitives.MultiplyAdd(ramp, -slope, output, output);
    }

    /// <summary>Candidates of the last call with their strengths (diagnostics for tests and tuning).</summary>
    internal string DebugCandidates()
    {
        var parts = new List<string>();
        for (int i = 0; i < _candidateCount; i++)
        {
            parts.Add(FormattableString.Invariant($"{_candidatePeriods[i]}:{_candidateStrengths[i]:F2}"));
        }

        return string.Join(' ', parts);
    }

    private void EnsureCapacity(int n)
    {
        if (_y.Length >= n)
        {
            return;
        }

        int fftLength = (int)BitOperations.RoundUpToPowerOf2((uint)(2 * n));
        _y = new float[n];
        _yDouble = new double[n];
        _work = new double[n];
        _detrended = new float[n];
        _scratch = new float[n];
        _prefix = new double[n + 1];
        _phase = new double[Math.Max(n / 3, _options.MinPeriod) + 2];
        _power = new float[(fftLength / 2) + 1];
        _acf = new float[n + 1];
        _acfPadded = new float[Autocorrelation.PaddedLength(n)];
        _ramp = new float[n];
        _rampLength = 0;
    }
}
