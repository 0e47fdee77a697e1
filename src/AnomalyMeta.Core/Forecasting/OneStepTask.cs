namespace AnomalyMeta.Core.Forecasting;

/// <summary>
/// Scales of one task, measured on its support window: the level's mean and spread (for the level input) and the
/// spread of one-step changes (the unit of targets, forecasts and residuals).
/// </summary>
public readonly record struct TaskScale(float LevelMean, float LevelScale, float StepScale)
{
    /// <summary>
    /// Measures a gap-free window. A constant window still gets a scale (a small floor relative to its level), so a
    /// flat series is scored: any move away from its value is news.
    /// </summary>
    public static TaskScale Of(ReadOnlySpan<float> window) => Of(window, default);

    /// <summary>
    /// Like <see cref="Of(ReadOnlySpan{float})"/>, over the points flagged in <paramref name="observed"/> only (all when
    /// empty): a filled gap must not pass for a quiet stretch, and a change is measured between consecutive observations.
    /// </summary>
    public static TaskScale Of(ReadOnlySpan<float> window, ReadOnlySpan<bool> observed)
    {
        double sum = 0;
        int count = 0;
        for (int i = 0; i < window.Length; i++)
        {
            if (observed.IsEmpty || observed[i])
            {
                sum += window[i];
                count++;
            }
        }
        if (count == 0)
        {
            return Of(window, default);
        }
        float mean = (float)(sum / count);
        double squares = 0;
        double stepSquares = 0;
        int steps = 0;
        float previous = float.NaN;
        for (int i = 0; i < window.Length; i++)
        {
            if (!observed.IsEmpty && !observed[i])
            {
                continue;
            }
            double d = window[i] - mean;
            squares += d * d;
            if (!float.IsNaN(previous))
            {
                double step = window[i] - previous;
                stepSquares += step * step;
                steps++;
            }
            previous = window[i];
        }
        float floor = 1e-4f * Math.Max(1f, Math.Abs(mean));
        float level = Math.Max((float)Math.Sqrt(squares / count), floor);
        float change = Math.Max((float)Math.Sqrt(stepSquares / Math.Max(1, steps)), floor);
        return new TaskScale(mean, level, change);
    }
}

/// <summary>
/// The regression task of the meta-learner: forecast each point from the points before it. Inputs are where the point
/// sits in the series' primary period and season (as the calendar goes, so a new series' phases line up with its
/// cluster's), the level of the previous point, the last <see cref="Lags"/> one-step changes, and the series' seasonal
/// reference: the mean of the same phase over the last <see cref="SeasonalCycles"/> cycles (its change at this phase,
/// and how far it is from the current level, so a periodic series is forecast from its recent cycles with their noise
/// averaged out, and a noisy previous value is pulled back towards it), and the same two inputs for the same local
/// time one week before (a weekday is forecast from last week's same day, not from the weekend before it, even when
/// the series is too young for its weekly period to be detected); the target is the
/// change from the previous point, in units of the support window's typical change. Anchoring the forecast on the
/// previous value is what keeps a level shift or a random walk from becoming a day of flags: after the shift the
/// forecast starts from the new level, so only its onset is surprising. The meta-learner learns, per cluster, how a
/// change depends on the phase and on the recent changes (seasonal shape, mean reversion, momentum); a few gradient
/// steps on the series' last season fit that to the series.
/// </summary>
public static class OneStepTask
{
    /// <summary>Changes before the point used as inputs; a point's inputs read <see cref="Lags"/> + 1 points before it.</summary>
    public const int Lags = 2;

    /// <summary>Points before the first encoded point that its inputs read.</summary>
    public const int History = Lags + 1;

    /// <summary>Inputs per point: primary phase, season phase, previous level, <see cref="Lags"/> previous changes, two seasonal and two weekly inputs.</summary>
    public const int InputSize = 7 + Lags;

    /// <summary>Inputs span [-InputRange, InputRange], the range the MLP was sized for.</summary>
    public const float InputRange = 5f;

    /// <summary>Cycles averaged into the seasonal reference.</summary>
    public const int SeasonalCycles = 3;

    /// <summary>
    /// Points before the first target that its inputs read, for a seasonal lag of <paramref name="seasonalLag"/> points
    /// and a week of <paramref name="weeklyLag"/> points (0: no weekly inputs).
    /// </summary>
    public static int Lead(int seasonalLag, int weeklyLag) => Math.Max(Math.Max(History, (SeasonalCycles * seasonalLag) + 1), weeklyLag + 1);

    /// <summary>A week in points of a series sampled <paramref name="pointsPerDay"/> times a day; 0 when a step is longer than a day.</summary>
    public static int WeekOf(int pointsPerDay) => pointsPerDay >= 1 ? 7 * pointsPerDay : 0;

    /// <summary>
    /// Encodes points [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) of
    /// <paramref name="values"/> (gap-free; <paramref name="first"/> ≥ <see cref="History"/>): inputs [count, InputSize]
    /// and targets [count] (the change from the previous point over <see cref="TaskScale.StepScale"/>).
    /// <paramref name="absoluteIndexOfValues0"/> is the index of values[0] counted from the epoch in the series' step;
    /// the seasonal inputs are 0 where no cycle reaches back to <paramref name="firstValid"/> (values before it are
    /// fill, not observations: a young series has no cycles yet). <paramref name="localShift"/>, when given, holds each
    /// value's UTC offset in points (<see cref="Series.LocalTime.Shifts"/>): phases and cycles follow the local clock.
    /// </summary>
    public static void Encode(ReadOnlySpan<float> values, int first, int count, long absoluteIndexOfValues0,
        int primaryPeriod, int seasonLength, int seasonalLag, int weeklyLag, TaskScale scale, Span<float> inputs, Span<float> targets, int firstValid = 0,
        ReadOnlySpan<int> localShift = default)
    {
        if (first < History || first + count > values.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(first), $"Points {first}..{first + count} need {History} points before them inside {values.Length} values.");
        }
        int primary = primaryPeriod > 1 ? primaryPeriod : seasonLength;
        float primaryStep = 2 * InputRange / primary;
        float seasonStep = 2 * InputRange / seasonLength;
        float inverseLevel = 1f / scale.LevelScale;
        float inverseStep = 1f / scale.StepScale;
        // Without clock changes the phases advance by one point per point: two 64-bit divisions per point were a
        // large part of building a batch's tasks. With them (or before the epoch) every phase is divided out.
        long absolute0 = absoluteIndexOfValues0 + first;
        bool stepping = localShift.IsEmpty && absolute0 >= 0;
        int primaryPhase = stepping ? (int)(absolute0 % primary) : 0;
        int seasonPhase = stepping ? (int)(absolute0 % seasonLength) : 0;
        // Each point's reference one point earlier is the previous point's reference: computed once, carried over.
        float previousReference = SeasonalReference(values, first - 1, seasonalLag, SeasonalCycles, firstValid, localShift);
        float lastWeekBefore = SeasonalReference(values, first - 1, weeklyLag, 1, firstValid, localShift);
        for (int i = 0; i < count; i++)
        {
            int t = first + i;
            if (!stepping)
            {
                long absolute = absoluteIndexOfValues0 + t + (localShift.IsEmpty ? 0 : localShift[t]);
                primaryPhase = (int)(absolute % primary);
                seasonPhase = (int)(absolute % seasonLength);
            }
            var row = inputs.Slice(i * InputSize, InputSize);
            row[0] = primaryPhase * primaryStep - InputRange;
            row[1] = seasonPhase * seasonStep - InputRange;
            row[2] = Clip((values[t - 1] - scale.LevelMean) * inverseLevel);
            for (int lag = 0; lag < Lags; lag++)
            {
                row[3 + lag] = Clip((values[t - 1 - lag] - values[t - 2 - lag]) * inverseStep);
            }
            float reference = SeasonalReference(values, t, seasonalLag, SeasonalCycles, firstValid, localShift);
            ReferenceInputs(reference, previousReference, values[t - 1], inverseStep, row.Slice(3 + Lags, 2));
            float lastWeek = SeasonalReference(values, t, weeklyLag, 1, firstValid, localShift);
            ReferenceInputs(lastWeek, lastWeekBefore, values[t - 1], inverseStep, row.Slice(5 + Lags, 2));
            targets[i] = (values[t] - values[t - 1]) * inverseStep;
            previousReference = reference;
            lastWeekBefore = lastWeek;
            if (stepping)
            {
                primaryPhase = primaryPhase + 1 == primary ? 0 : primaryPhase + 1;
                seasonPhase = seasonPhase + 1 == seasonLength ? 0 : seasonPhase + 1;
            }
        }
    }

    /// <summary>The forecast of a point from the previous value and the model's output (a change in step units).</summary>
    public static float Forecast(float previousValue, float output, TaskScale scale) => previousValue + (output * scale.StepScale);

    private static float Clip(float x) => Math.Clamp(x, -InputRange, InputRange);

    /// <summary>A reference's change at this point and its gap to the previous value, in step units; 0 where it does not exist.</summary>
    private static void ReferenceInputs(float reference, float previousReference, float previousValue, float inverseStep, Span<float> inputs)
    {
        inputs[0] = float.IsNaN(reference) || float.IsNaN(previousReference) ? 0f : Clip((reference - previousReference) * inverseStep);
        inputs[1] = float.IsNaN(reference) ? 0f : Clip((reference - previousValue) * inverseStep);
    }

    /// <summary>Mean of the values one, two, ... <paramref name="maxCycles"/> lags before <paramref name="t"/> that exist; NaN when none does.</summary>
    private static float SeasonalReference(ReadOnlySpan<float> values, int t, int lag, int maxCycles, int firstValid, ReadOnlySpan<int> localShift)
    {
        if (lag <= 0)
        {
            return float.NaN;
        }
        float sum = 0;
        int cycles = 0;
        for (int c = 1; c <= maxCycles; c++)
        {
            int j = t - (c * lag);
            if (!localShift.IsEmpty && j >= 0)
            {
                // The same local time c cycles ago: after a clock change it is an hour further or nearer in UTC.
                j += localShift[t] - localShift[j];
            }
            if (j < firstValid || j >= t)
            {
                break;
            }
            sum += values[j];
            cycles++;
        }
        return cycles == 0 ? float.NaN : sum / cycles;
    }
}
