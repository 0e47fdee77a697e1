using System.Buffers;
using AnomalyMeta.Core.Detection;
using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Core.Series;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Batches;

/// <summary>
/// Scores the series of one cluster in a batch: for each, the support set is the season before the scoring day,
/// the adapted model predicts that season back (to measure its own fit) and the scoring day forward, and points
/// whose residual exceeds the threshold become anomaly rows.
/// Pure computation: no I/O, one set of pooled buffers per call.
/// </summary>
public sealed class BatchScorer(DetectionOptions detection)
{
    /// <param name="model">The cluster's meta-learner and task shape.</param>
    /// <param name="batch">Windows of the batch's series, the scoring day last.</param>
    /// <param name="members">Indices into <paramref name="batch"/> of the series to score, all of this model's cluster.</param>
    /// <param name="outcomes">Receives one outcome per member.</param>
    /// <param name="anomalies">Receives the flagged points.</param>
    public void Score(ClusterScoringModel model, SeriesHistoryBatch batch, ReadOnlySpan<int> members,
        List<SeriesOutcome> outcomes, List<AnomalyRow> anomalies)
    {
        int count = members.Length;
        int day = model.PointsPerDay;
        int windowLength = batch.DaysBack * day;
        // Absolute index (points since the epoch) of the windows' first point: phases line up with the calendar.
        long windowFirstIndex = (long)batch.FirstDay.DayNumber * day;
        int k = model.SeasonLength;
        int queryLength = k + day;
        int inputs = SeasonalTask.InputSize;
        if (windowLength < k + day)
        {
            throw new ArgumentException($"Windows of {batch.DaysBack} days cannot hold a season of {k} points and the scoring day: read more days.", nameof(batch));
        }

        var pool = ArrayPool<float>.Shared;
        float[] supportX = pool.Rent(count * k * inputs);
        float[] supportY = pool.Rent(count * k);
        float[] queryX = pool.Rent(count * queryLength * inputs);
        float[] predictions = pool.Rent(count * queryLength);
        float[] mean = pool.Rent(count);
        float[] scale = pool.Rent(count);
        float[] scratch = pool.Rent(k);
        int[] accepted = ArrayPool<int>.Shared.Rent(count);
        try
        {
            // Every task has the same inputs: the same season before the same day. Encode once, copy per task.
            long supportFirst = windowFirstIndex + windowLength - day - k;
            SeasonalTask.EncodeInputs(supportFirst, k, model.PrimaryPeriod, model.SeasonLength, supportX.AsSpan(0, k * inputs));
            SeasonalTask.EncodeInputs(supportFirst, queryLength, model.PrimaryPeriod, model.SeasonLength, queryX.AsSpan(0, queryLength * inputs));

            int tasks = 0;
            for (int s = 0; s < count; s++)
            {
                var window = batch.PointsOf(members[s]);
                var support = supportY.AsSpan(tasks * k, k);
                var status = PrepareSupport(window[(windowLength - day - k)..(windowLength - day)], window[(windowLength - day)..], support);
                if (status == SeriesStatus.Scored && !SeasonalTask.TryNormalisation(support, out mean[tasks], out scale[tasks]))
                {
                    status = SeriesStatus.Constant;
                }
                if (status != SeriesStatus.Scored)
                {
                    outcomes.Add(new SeriesOutcome(batch.Series[members[s]].SeriesId, status, Describe(status, k)));
                    continue;
                }
                SeasonalTask.Normalise(support, mean[tasks], scale[tasks], support);
                if (tasks > 0)
                {
                    supportX.AsSpan(0, k * inputs).CopyTo(supportX.AsSpan(tasks * k * inputs));
                    queryX.AsSpan(0, queryLength * inputs).CopyTo(queryX.AsSpan(tasks * queryLength * inputs));
                }
                accepted[tasks++] = s;
            }

            model.Adapter.AdaptAndPredict(tasks, k, supportX.AsSpan(0, tasks * k * inputs), supportY.AsSpan(0, tasks * k),
                queryLength, queryX.AsSpan(0, tasks * queryLength * inputs), model.AdaptationSteps, predictions.AsSpan(0, tasks * queryLength));

            var dayStart = new DateTimeOffset(batch.AsOf.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            var step = TimeSpan.FromDays(1) / day;
            for (int task = 0; task < tasks; task++)
            {
                int s = accepted[task];
                var fitted = predictions.AsSpan(task * queryLength, k);
                var forecast = predictions.AsSpan(task * queryLength + k, day);
                float sigma = ResidualScorer.RobustScale(supportY.AsSpan(task * k, k), fitted, scratch, detection.MinimumScale);
                int seriesId = batch.Series[members[s]].SeriesId;
                var actual = batch.PointsOf(members[s])[(windowLength - day)..];
                int scored = 0;
                for (int t = 0; t < day; t++)
                {
                    if (float.IsNaN(actual[t]))
                    {
                        continue;
                    }
                    scored++;
                    float z = ((actual[t] - mean[task]) / scale[task] - forecast[t]) / sigma;
                    if (Math.Abs(z) < detection.Threshold)
                    {
                        continue;
                    }
                    float band = detection.Threshold * sigma * scale[task];
                    float expected = mean[task] + forecast[t] * scale[task];
                    anomalies.Add(new AnomalyRow(seriesId, dayStart + step * t, actual[t], expected,
                        expected - band, expected + band, ResidualScorer.Score(z, detection.Threshold)));
                }
                outcomes.Add(new SeriesOutcome(seriesId, SeriesStatus.Scored, null, scored));
            }
        }
        finally
        {
            pool.Return(supportX);
            pool.Return(supportY);
            pool.Return(queryX);
            pool.Return(predictions);
            pool.Return(mean);
            pool.Return(scale);
            pool.Return(scratch);
            ArrayPool<int>.Shared.Return(accepted);
        }
    }

    /// <summary>Copies the support season into <paramref name="support"/> with its gaps filled, or says why it cannot.</summary>
    private static SeriesStatus PrepareSupport(ReadOnlySpan<float> season, ReadOnlySpan<float> scoringDay, Span<float> support)
    {
        if (WindowRepair.HasInfinity(season) || WindowRepair.HasInfinity(scoringDay))
        {
            return SeriesStatus.NonFinite;
        }
        if (WindowRepair.CountObserved(scoringDay) == 0)
        {
            return SeriesStatus.NoData;
        }
        season.CopyTo(support);
        // Half a season observed is the least that still shows its shape.
        return WindowRepair.FillGaps(support) * 2 < season.Length ? SeriesStatus.TooShort : SeriesStatus.Scored;
    }

    private static string Describe(SeriesStatus status, int seasonLength) => status switch
    {
        SeriesStatus.TooShort => $"fewer than {seasonLength / 2} of the {seasonLength} support points observed",
        SeriesStatus.NonFinite => "infinite value in the support window or the scoring day",
        SeriesStatus.NoData => "no observation on the scoring day",
        SeriesStatus.Constant => "support window is constant",
        _ => status.ToString(),
    };
}
