using System.Buffers;
using System.Diagnostics;
using AnomalyMeta.Core.Detection;
using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Core.Series;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Batches;

/// <summary>
/// Scores the series of one model in a batch. The morning job scores yesterday, when all of it is known, so each
/// point is forecast one step ahead from the values before it (<see cref="OneStepTask"/>):
/// <list type="number">
/// <item>adapt a copy of the meta-parameters on the season of K points before the day, and forecast every point of the day;</item>
/// <item>adapt a second copy on the first half of that season and forecast its second half: out-of-sample residuals,
/// whose robust spread starts the residual scale (an in-sample fit flatters itself);</item>
/// <item>score the day's residuals against a scale that follows them (<see cref="DayScorer"/>).</item>
/// </list>
/// Pure computation: no I/O, one set of pooled buffers per call, so calls may run on several threads at once. A series
/// whose adaptation or forecast is not finite gets the status <see cref="SeriesStatus.Diverged"/>; the others go on.
/// </summary>
public sealed class BatchScorer(DetectionOptions detection)
{
    // Stopwatch ticks, added with Interlocked: calls run on several threads at once.
    private long _encodeTicks;
    private long _adaptTicks;
    private long _scoreTicks;

    /// <summary>Time spent building tasks (windows, scales, inputs) over every call so far, summed over threads.</summary>
    public TimeSpan EncodeTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _encodeTicks));

    /// <summary>Time spent adapting and forecasting (the two adaptations of each task) over every call so far, summed over threads.</summary>
    public TimeSpan AdaptTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _adaptTicks));

    /// <summary>Time spent turning forecasts into scores, flags and detector states over every call so far, summed over threads.</summary>
    public TimeSpan ScoreTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _scoreTicks));

    /// <param name="model">The meta-learner and task shape.</param>
    /// <param name="detail">Status detail of every scored member (which model scored it, if not its cluster's), or null.</param>
    /// <param name="batch">Windows of the batch's series, the scoring day last.</param>
    /// <param name="members">Indices into <paramref name="batch"/> of the series to score with this model.</param>
    /// <param name="previous">Per series of the batch (indexed like it): where its detector stood after the day before
    /// (quiet points left, residual scale and peak; NaN when unknown).</param>
    /// <param name="outcomes">Receives one outcome per member.</param>
    /// <param name="anomalies">Receives the flagged points.</param>
    public void Score(ScoringModel model, string? detail, SeriesHistoryBatch batch, ReadOnlySpan<int> members,
        ReadOnlySpan<PreviousDay> previous, List<SeriesOutcome> outcomes, List<AnomalyRow> anomalies)
    {
        long started = Stopwatch.GetTimestamp();
        int count = members.Length;
        int day = model.PointsPerDay;
        int windowLength = batch.DaysBack * day;
        int k = model.SeasonLength;
        int lead = model.Lead;
        int span = model.WindowLength;
        if (windowLength < span)
        {
            throw new ArgumentException($"Windows of {batch.DaysBack} days cannot hold the {span} points of a task: read more days.", nameof(batch));
        }
        int firstHalf = k / 2;
        int secondHalf = k - firstHalf;
        int inputs = OneStepTask.InputSize;
        // Absolute index (points since the epoch) of each task's first point: phases line up with the calendar.
        long taskFirstIndex = ((long)batch.FirstDay.DayNumber * day) + windowLength - span;

        var pool = ArrayPool<float>.Shared;
        float[] values = pool.Rent(count * span);
        bool[] observed = ArrayPool<bool>.Shared.Rent(span);
        float[] supportX = pool.Rent(count * k * inputs);
        float[] supportY = pool.Rent(count * k);
        float[] queryX = pool.Rent(count * day * inputs);
        float[] queryY = pool.Rent(count * day);
        float[] predictions = pool.Rent(count * day);
        float[] halfX = pool.Rent(count * firstHalf * inputs);
        float[] halfY = pool.Rent(count * firstHalf);
        float[] checkX = pool.Rent(count * secondHalf * inputs);
        float[] checkY = pool.Rent(count * secondHalf);
        float[] checkPredictions = pool.Rent(count * secondHalf);
        float[] residuals = pool.Rent(Math.Max(day, secondHalf));
        float[] scales = pool.Rent(day);
        int[] positions = ArrayPool<int>.Shared.Rent(k);
        int[] shifts = ArrayPool<int>.Shared.Rent(count * span);
        var zones = new Dictionary<string, TimeZoneInfo>(StringComparer.Ordinal);
        // Per accepted task: its scale, and which points of its check half were observed.
        var taskScales = ArrayPool<TaskScale>.Shared.Rent(count);
        bool[] checkObserved = ArrayPool<bool>.Shared.Rent(count * secondHalf);
        int[] accepted = ArrayPool<int>.Shared.Rent(count);
        try
        {
            int tasks = 0;
            for (int s = 0; s < count; s++)
            {
                var window = batch.PointsOf(members[s])[(windowLength - span)..];
                var taskValues = values.AsSpan(tasks * span, span);
                var status = Prepare(window, lead, k, model.MinimumObserved, taskValues, observed.AsSpan(0, span), out int firstValid);
                if (status != SeriesStatus.Scored)
                {
                    outcomes.Add(new SeriesOutcome(batch.Series[members[s]].SeriesId, status, Describe(status, k, model.MinimumObserved)));
                    continue;
                }
                var seen = observed.AsSpan(0, span);
                var scale = TaskScale.Of(taskValues.Slice(lead, k), seen.Slice(lead, k));
                var shift = LocalShift(batch.Series[members[s]], taskFirstIndex, zones, shifts.AsSpan(tasks * span, span));
                taskScales[tasks] = scale;
                // The support is the season's observed points; a sparse season repeats them to fill its K slots, so
                // interpolated points never pass for observations.
                var taskSupportX = supportX.AsSpan(tasks * k * inputs, k * inputs);
                var taskSupportY = supportY.AsSpan(tasks * k, k);
                var taskHalfX = halfX.AsSpan(tasks * firstHalf * inputs, firstHalf * inputs);
                var taskHalfY = halfY.AsSpan(tasks * firstHalf, firstHalf);
                var taskCheckX = checkX.AsSpan(tasks * secondHalf * inputs, secondHalf * inputs);
                var taskCheckY = checkY.AsSpan(tasks * secondHalf, secondHalf);
                if (EncodeObserved(model, taskValues, seen, lead, k, taskFirstIndex, scale, firstValid, shift, positions, taskSupportX, taskSupportY))
                {
                    // A point's row depends on nothing but the point: a support encoded in order holds the half's rows
                    // and the check's, bit for bit: copied, not encoded again (at K = 168, half of a task's rows).
                    taskSupportX[..taskHalfX.Length].CopyTo(taskHalfX);
                    taskSupportY[..firstHalf].CopyTo(taskHalfY);
                    taskSupportX[taskHalfX.Length..].CopyTo(taskCheckX);
                    taskSupportY[firstHalf..].CopyTo(taskCheckY);
                }
                else
                {
                    EncodeObserved(model, taskValues, seen, lead, firstHalf, taskFirstIndex, scale, firstValid, shift, positions, taskHalfX, taskHalfY);
                    OneStepTask.Encode(taskValues, lead + firstHalf, secondHalf, taskFirstIndex, model.PrimaryPeriod, k, model.SeasonalLag, model.WeeklyLag, scale,
                        taskCheckX, taskCheckY, firstValid, shift);
                }
                seen.Slice(lead + firstHalf, secondHalf).CopyTo(checkObserved.AsSpan(tasks * secondHalf, secondHalf));
                OneStepTask.Encode(taskValues, lead + k, day, taskFirstIndex, model.PrimaryPeriod, k, model.SeasonalLag, model.WeeklyLag, scale,
                    queryX.AsSpan(tasks * day * inputs, day * inputs), queryY.AsSpan(tasks * day, day), firstValid, shift);
                accepted[tasks++] = s;
            }

            long encoded = Stopwatch.GetTimestamp();
            Interlocked.Add(ref _encodeTicks, encoded - started);
            model.Adapter.AdaptAndPredict(tasks, k, supportX.AsSpan(0, tasks * k * inputs), supportY.AsSpan(0, tasks * k),
                day, queryX.AsSpan(0, tasks * day * inputs), model.AdaptationSteps, predictions.AsSpan(0, tasks * day));
            model.Adapter.AdaptAndPredict(tasks, firstHalf, halfX.AsSpan(0, tasks * firstHalf * inputs), halfY.AsSpan(0, tasks * firstHalf),
                secondHalf, checkX.AsSpan(0, tasks * secondHalf * inputs), model.AdaptationSteps, checkPredictions.AsSpan(0, tasks * secondHalf));

            long adapted = Stopwatch.GetTimestamp();
            Interlocked.Add(ref _adaptTicks, adapted - encoded);
            var dayStart = new DateTimeOffset(batch.AsOf.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            var step = TimeSpan.FromDays(1) / day;
            int quietPoints = (int)Math.Round(detection.QuietDays * day);
            int peakMemoryPoints = Math.Max(1, (int)Math.Round(detection.PeakMemoryDays * day));
            for (int task = 0; task < tasks; task++)
            {
                int s = accepted[task];
                int seriesId = batch.Series[members[s]].SeriesId;
                var scale = taskScales[task];
                int checkedPoints = 0;
                float peak = 0;
                for (int i = 0; i < secondHalf; i++)
                {
                    if (checkObserved[(task * secondHalf) + i])
                    {
                        float residual = checkY[(task * secondHalf) + i] - checkPredictions[(task * secondHalf) + i];
                        residuals[checkedPoints++] = residual;
                        peak = Math.Max(peak, Math.Abs(residual));
                    }
                }
                // The scale goes on from where yesterday's run left it; on a series' first scored day it starts from the
                // out-of-sample residuals, or, with too few of them, from the typical one-step change (the error of a
                // forecast that knows nothing but the last value).
                var before = previous[members[s]];
                float initialScale = before.ResidualScale > 0
                    ? Math.Max(before.ResidualScale / scale.StepScale, detection.MinimumScale)
                    : checkedPoints >= MinimumCheckPoints
                        ? ResidualScorer.RobustScale(residuals.AsSpan(0, checkedPoints), detection.MinimumScale)
                        : 1f;
                if (before.ResidualPeak > 0)
                {
                    peak = Math.Max(peak, before.ResidualPeak / scale.StepScale);
                }

                var actual = batch.PointsOf(members[s])[(windowLength - day)..];
                var taskValues = values.AsSpan(task * span, span);
                var output = predictions.AsSpan(task * day, day);
                var forecast = new float[day];
                var dayResiduals = residuals.AsSpan(0, day);
                bool finite = float.IsFinite(initialScale) && float.IsFinite(peak);
                for (int t = 0; t < day; t++)
                {
                    forecast[t] = OneStepTask.Forecast(taskValues[lead + k + t - 1], output[t], scale);
                    dayResiduals[t] = queryY[(task * day) + t] - output[t];
                    finite &= float.IsFinite(forecast[t]) && float.IsFinite(dayResiduals[t]);
                }
                if (!finite)
                {
                    outcomes.Add(new SeriesOutcome(seriesId, SeriesStatus.Diverged,
                        $"{model.Name}: adaptation or forecast is not finite (values too large for the float pipeline?)"));
                    continue;
                }
                var scores = new float[day];
                int scored = DayScorer.Score(actual, dayResiduals, initialScale, peak, k, peakMemoryPoints, quietPoints, before.QuietPoints,
                    detection, scales.AsSpan(0, day), scores, out float finalScale, out float finalPeak);
                for (int t = 0; t < day; t++)
                {
                    if (float.IsNaN(actual[t]))
                    {
                        forecast[t] = float.NaN;
                        continue;
                    }
                    if (!(scores[t] >= 0.5f))
                    {
                        continue;
                    }
                    float band = detection.Threshold * scales[t] * scale.StepScale;
                    anomalies.Add(new AnomalyRow(seriesId, dayStart + (step * t), actual[t], forecast[t],
                        forecast[t] - band, forecast[t] + band, scores[t]));
                }
                outcomes.Add(new SeriesOutcome(seriesId, SeriesStatus.Scored, detail, scored, forecast, scores,
                    new DetectorState(finalScale * scale.StepScale, finalPeak * scale.StepScale)));
            }
            Interlocked.Add(ref _scoreTicks, Stopwatch.GetTimestamp() - adapted);
        }
        finally
        {
            pool.Return(values);
            ArrayPool<bool>.Shared.Return(observed);
            pool.Return(supportX);
            pool.Return(supportY);
            pool.Return(queryX);
            pool.Return(queryY);
            pool.Return(predictions);
            pool.Return(halfX);
            pool.Return(halfY);
            pool.Return(checkX);
            pool.Return(checkY);
            pool.Return(checkPredictions);
            pool.Return(residuals);
            pool.Return(scales);
            ArrayPool<int>.Shared.Return(positions);
            ArrayPool<int>.Shared.Return(shifts);
            ArrayPool<TaskScale>.Shared.Return(taskScales);
            ArrayPool<bool>.Shared.Return(checkObserved);
            ArrayPool<int>.Shared.Return(accepted);
        }
    }

    /// <summary>The UTC offsets of a series' window in points, or an empty span for a series on UTC.</summary>
    private static ReadOnlySpan<int> LocalShift(SeriesHistory series, long firstIndex, Dictionary<string, TimeZoneInfo> zones, Span<int> shifts)
    {
        if (series.TimeZone == "UTC")
        {
            return default;
        }
        if (!zones.TryGetValue(series.TimeZone, out var zone))
        {
            zones[series.TimeZone] = zone = LocalTime.Zone(series.TimeZone);
        }
        LocalTime.Shifts(firstIndex, series.StepSeconds, zone, shifts);
        return shifts;
    }

    /// <summary>Observed points of the season before the scoring day at the end of <paramref name="window"/>.</summary>
    public static int ObservedInSeason(ReadOnlySpan<float> window, int seasonLength, int pointsPerDay) =>
        window.Length < seasonLength + pointsPerDay ? 0 : WindowRepair.CountObserved(window[^(seasonLength + pointsPerDay)..^pointsPerDay]);

    // Out-of-sample residuals fewer than this do not make a scale.
    private const int MinimumCheckPoints = 8;

    /// <summary>
    /// Encodes <paramref name="slots"/> support points from the observed points among [lead, lead + slots), in order,
    /// cycling through them when there are fewer than slots (none observed: the points as filled). True when the points
    /// were encoded in order, each slot its own point.
    /// </summary>
    private static bool EncodeObserved(ScoringModel model, ReadOnlySpan<float> values, ReadOnlySpan<bool> observed, int lead, int slots,
        long firstIndex, TaskScale scale, int firstValid, ReadOnlySpan<int> shift, int[] positions, Span<float> inputs, Span<float> targets)
    {
        int found = 0;
        for (int p = lead; p < lead + slots; p++)
        {
            if (observed[p])
            {
                positions[found++] = p;
            }
        }
        if (found == slots || found == 0)
        {
            OneStepTask.Encode(values, lead, slots, firstIndex, model.PrimaryPeriod, model.SeasonLength, model.SeasonalLag, model.WeeklyLag, scale, inputs, targets, firstValid, shift);
            return true;
        }
        int width = OneStepTask.InputSize;
        for (int slot = 0; slot < slots; slot++)
        {
            OneStepTask.Encode(values, positions[slot % found], 1, firstIndex, model.PrimaryPeriod, model.SeasonLength, model.SeasonalLag, model.WeeklyLag, scale,
                inputs.Slice(slot * width, width), targets.Slice(slot, 1), firstValid, shift);
        }
        return false;
    }

    /// <summary>
    /// Copies the window into <paramref name="values"/> and marks its observed points: the lead and season's gaps
    /// interpolated, the day's gaps carried forward from the last known value (the day is forecast point by point, so
    /// only the past may fill it).
    /// </summary>
    private static SeriesStatus Prepare(ReadOnlySpan<float> window, int lead, int seasonLength, int minimumObserved,
        Span<float> values, Span<bool> observed, out int firstValid)
    {
        int history = lead + seasonLength;
        // Values before the series' first observation are fill: seasonal references must not reach into them.
        firstValid = 0;
        while (firstValid < window.Length - 1 && float.IsNaN(window[firstValid]))
        {
            firstValid++;
        }
        if (WindowRepair.HasInfinity(window))
        {
            return SeriesStatus.NonFinite;
        }
        if (WindowRepair.CountObserved(window[history..]) == 0)
        {
            return SeriesStatus.NoData;
        }
        if (WindowRepair.CountObserved(window[lead..history]) < minimumObserved)
        {
            return SeriesStatus.TooShort;
        }
        for (int i = 0; i < window.Length; i++)
        {
            observed[i] = !float.IsNaN(window[i]);
        }
        window.CopyTo(values);
        WindowRepair.FillGaps(values[..history]);
        for (int t = history; t < values.Length; t++)
        {
            if (float.IsNaN(values[t]))
            {
                values[t] = values[t - 1];
            }
        }
        return SeriesStatus.Scored;
    }

    private static string Describe(SeriesStatus status, int seasonLength, int minimumObserved) => status switch
    {
        SeriesStatus.TooShort => $"fewer than {minimumObserved} of the {seasonLength} support points observed",
        SeriesStatus.NonFinite => "infinite value in the support window or the scoring day",
        SeriesStatus.NoData => "no observation on the scoring day",
        _ => status.ToString(),
    };
}

/// <summary>Where a series' detector stood after the day before: quiet points left of a flag, residual scale and peak (NaN: unknown).</summary>
public readonly record struct PreviousDay(int QuietPoints, float ResidualScale, float ResidualPeak)
{
    public static PreviousDay None => new(0, float.NaN, float.NaN);
}
