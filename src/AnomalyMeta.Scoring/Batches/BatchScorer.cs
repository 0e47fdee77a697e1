using System.Buffers;
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
/// Pure computation: no I/O, one set of pooled buffers per call. A series whose adaptation or forecast is not finite
/// gets the status <see cref="SeriesStatus.Diverged"/>; the others go on.
/// </summary>
public sealed class BatchScorer(DetectionOptions detection)
{
    /// <param name="model">The meta-learner and task shape.</param>
    /// <param name="detail">Status detail of every scored member (which model scored it, if not its cluster's), or null.</param>
    /// <param name="batch">Windows of the batch's series, the scoring day last.</param>
    /// <param name="members">Indices into <paramref name="batch"/> of the series to score with this model.</param>
    /// <param name="outcomes">Receives one outcome per member.</param>
    /// <param name="anomalies">Receives the flagged points.</param>
    public void Score(ScoringModel model, string? detail, SeriesHistoryBatch batch, ReadOnlySpan<int> members,
        List<SeriesOutcome> outcomes, List<AnomalyRow> anomalies)
    {
        int count = members.Length;
        int day = model.PointsPerDay;
        int windowLength = batch.DaysBack * day;
        int k = model.SeasonLength;
        if (windowLength < k + day)
        {
            throw new ArgumentException($"Windows of {batch.DaysBack} days cannot hold a season of {k} points and the scoring day: read more days.", nameof(batch));
        }
        int span = k + day;
        int support = k - OneStepTask.History;
        int firstHalf = support / 2;
        int secondHalf = support - firstHalf;
        int inputs = OneStepTask.InputSize;
        // Absolute index (points since the epoch) of each task's first point: phases line up with the calendar.
        long taskFirstIndex = ((long)batch.FirstDay.DayNumber * day) + windowLength - span;

        var pool = ArrayPool<float>.Shared;
        float[] values = pool.Rent(count * span);
        float[] supportX = pool.Rent(count * support * inputs);
        float[] supportY = pool.Rent(count * support);
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
        var taskScales = ArrayPool<TaskScale>.Shared.Rent(count);
        int[] accepted = ArrayPool<int>.Shared.Rent(count);
        try
        {
            int tasks = 0;
            for (int s = 0; s < count; s++)
            {
                var window = batch.PointsOf(members[s])[(windowLength - span)..];
                var taskValues = values.AsSpan(tasks * span, span);
                var status = Prepare(window, k, taskValues);
                if (status != SeriesStatus.Scored)
                {
                    outcomes.Add(new SeriesOutcome(batch.Series[members[s]].SeriesId, status, Describe(status, k)));
                    continue;
                }
                var scale = TaskScale.Of(taskValues[..k]);
                taskScales[tasks] = scale;
                OneStepTask.Encode(taskValues, OneStepTask.History, support, taskFirstIndex, model.PrimaryPeriod, k, scale,
                    supportX.AsSpan(tasks * support * inputs, support * inputs), supportY.AsSpan(tasks * support, support));
                OneStepTask.Encode(taskValues, k, day, taskFirstIndex, model.PrimaryPeriod, k, scale,
                    queryX.AsSpan(tasks * day * inputs, day * inputs), queryY.AsSpan(tasks * day, day));
                supportX.AsSpan(tasks * support * inputs, firstHalf * inputs).CopyTo(halfX.AsSpan(tasks * firstHalf * inputs));
                supportY.AsSpan(tasks * support, firstHalf).CopyTo(halfY.AsSpan(tasks * firstHalf));
                supportX.AsSpan(((tasks * support) + firstHalf) * inputs, secondHalf * inputs).CopyTo(checkX.AsSpan(tasks * secondHalf * inputs));
                supportY.AsSpan((tasks * support) + firstHalf, secondHalf).CopyTo(checkY.AsSpan(tasks * secondHalf));
                accepted[tasks++] = s;
            }

            model.Adapter.AdaptAndPredict(tasks, support, supportX.AsSpan(0, tasks * support * inputs), supportY.AsSpan(0, tasks * support),
                day, queryX.AsSpan(0, tasks * day * inputs), model.AdaptationSteps, predictions.AsSpan(0, tasks * day));
            model.Adapter.AdaptAndPredict(tasks, firstHalf, halfX.AsSpan(0, tasks * firstHalf * inputs), halfY.AsSpan(0, tasks * firstHalf),
                secondHalf, checkX.AsSpan(0, tasks * secondHalf * inputs), model.AdaptationSteps, checkPredictions.AsSpan(0, tasks * secondHalf));

            var dayStart = new DateTimeOffset(batch.AsOf.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            var step = TimeSpan.FromDays(1) / day;
            int quietPoints = (int)Math.Round(detection.QuietDays * day);
            for (int task = 0; task < tasks; task++)
            {
                int s = accepted[task];
                int seriesId = batch.Series[members[s]].SeriesId;
                var scale = taskScales[task];
                var outOfSample = residuals.AsSpan(0, secondHalf);
                for (int i = 0; i < secondHalf; i++)
                {
                    outOfSample[i] = checkY[(task * secondHalf) + i] - checkPredictions[(task * secondHalf) + i];
                }
                float initialScale = Math.Max(ResidualScorer.RobustScale(outOfSample, detection.MinimumScale), detection.MinimumScale);

                var actual = batch.PointsOf(members[s])[(windowLength - day)..];
                var taskValues = values.AsSpan(task * span, span);
                var output = predictions.AsSpan(task * day, day);
                var forecast = new float[day];
                var dayResiduals = residuals.AsSpan(0, day);
                bool finite = float.IsFinite(initialScale);
                for (int t = 0; t < day; t++)
                {
                    forecast[t] = OneStepTask.Forecast(taskValues[k + t - 1], output[t], scale);
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
                int scored = DayScorer.Score(actual, dayResiduals, initialScale, k, quietPoints, detection, scales.AsSpan(0, day), scores);
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
                outcomes.Add(new SeriesOutcome(seriesId, SeriesStatus.Scored, detail, scored, forecast, scores));
            }
        }
        finally
        {
            pool.Return(values);
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
            ArrayPool<TaskScale>.Shared.Return(taskScales);
            ArrayPool<int>.Shared.Return(accepted);
        }
    }

    /// <summary>
    /// True when at least half of the K points before the day are observed: the least that still shows the season's
    /// shape. Used to choose, per series, a model whose season its history can fill.
    /// </summary>
    public static bool CanFill(ReadOnlySpan<float> window, int seasonLength, int pointsPerDay)
    {
        if (window.Length < seasonLength + pointsPerDay)
        {
            return false;
        }
        var season = window[^(seasonLength + pointsPerDay)..^pointsPerDay];
        return WindowRepair.CountObserved(season) * 2 >= seasonLength;
    }

    /// <summary>
    /// Copies the season and the day into <paramref name="values"/>: the season's gaps interpolated, the day's gaps
    /// carried forward from the last known value (the day is forecast point by point, so only the past may fill it).
    /// </summary>
    private static SeriesStatus Prepare(ReadOnlySpan<float> window, int seasonLength, Span<float> values)
    {
        var season = window[..seasonLength];
        var scoringDay = window[seasonLength..];
        if (WindowRepair.HasInfinity(season) || WindowRepair.HasInfinity(scoringDay))
        {
            return SeriesStatus.NonFinite;
        }
        if (WindowRepair.CountObserved(scoringDay) == 0)
        {
            return SeriesStatus.NoData;
        }
        window.CopyTo(values);
        if (WindowRepair.FillGaps(values[..seasonLength]) * 2 < seasonLength)
        {
            return SeriesStatus.TooShort;
        }
        for (int t = seasonLength; t < values.Length; t++)
        {
            if (float.IsNaN(values[t]))
            {
                values[t] = values[t - 1];
            }
        }
        return SeriesStatus.Scored;
    }

    private static string Describe(SeriesStatus status, int seasonLength) => status switch
    {
        SeriesStatus.TooShort => $"fewer than {seasonLength / 2} of the {seasonLength} support points observed",
        SeriesStatus.NonFinite => "infinite value in the support window or the scoring day",
        SeriesStatus.NoData => "no observation on the scoring day",
        _ => status.ToString(),
    };
}
