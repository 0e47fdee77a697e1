using AnomalyMeta.Scoring;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Core.Detection;
using AnomalyMeta.Benchmarks;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Benchmarks.Evaluation;

/// <summary>The anomalies <see cref="InjectionEvaluation"/> plants.</summary>
public enum InjectedKind
{
    None,
    Spike,
    LevelShift,
    VarianceChange,
    TrendChange,
}

/// <summary>Point and event figures of one anomaly kind, of the clean series ("none") or of all series ("all").</summary>
/// <param name="Name">The kind, "None" for the clean series, or "all".</param>
/// <param name="Series">Series in the row.</param>
/// <param name="Events">Planted events among them.</param>
/// <param name="PointWise">Every anomalous point must be flagged.</param>
/// <param name="DelayAdjusted">Donut / SR-CNN delay protocol (<see cref="Core.Detection.DelayAdjusted"/>).</param>
/// <param name="EventRecall">Share of planted events with a flag inside them.</param>
/// <param name="EventPrecision">Share of flagged series-days whose flags touch a planted event.</param>
/// <param name="FalseAlarmShare">Share of the series-days without a planted event that were flagged.</param>
public sealed record InjectionScore(string Name, int Series, int Events, DetectionMetrics PointWise, DetectionMetrics DelayAdjusted,
    double EventRecall, double EventPrecision, double FalseAlarmShare)
{
    public double EventF1 => EventRecall + EventPrecision == 0 ? 0 : 2 * EventRecall * EventPrecision / (EventRecall + EventPrecision);
}

/// <summary>
/// Plants spikes, level shifts, variance changes and trend changes at known places on the last day of M4 Hourly series
/// (timestamps given hour by hour, ending on <see cref="ScoringDay"/>), runs the product's pipeline on them in the
/// database it is given (ingest, cluster, train, the morning run of that day) and compares the flags with the truth.
/// A fifth of the series is left clean. Sizes are 6 to 12 typical one-step changes of the series.
/// </summary>
public sealed class InjectionEvaluation(SeriesRepository series, ClusteringStep clustering, MetaTrainingStep training,
    MorningScoring scoring, AnomalyQueries queries, TrainingOptions trainingOptions)
{
    public static readonly DateOnly ScoringDay = new(2026, 6, 15);

    private const int Day = 24;
    private const int HistoryDays = 28;

    public async Task<IReadOnlyList<InjectionScore>> RunAsync(string m4Directory, int iterations, int seed, CancellationToken cancellationToken)
    {
        var random = new Random(seed);
        var planted = new List<(string Key, float[] Values, bool[] Truth, InjectedKind Kind)>();
        foreach (var m4 in M4File.Read(Path.Combine(m4Directory, "Hourly-train.csv")))
        {
            int length = (HistoryDays + 1) * Day;
            if (m4.Values.Length < length)
            {
                continue;
            }
            var values = m4.Values[^length..].ToArray();
            var truth = new bool[length];
            var kind = (InjectedKind)(planted.Count % 5);
            Plant(values, truth, kind, random);
            planted.Add(($"m4/{m4.Id}", values, truth, kind));
        }

        var firstDay = ScoringDay.AddDays(-HistoryDays);
        await series.RegisterAndWriteAsync(
            planted.Select(p => new SeriesRegistration(p.Key, 3600)).ToList(),
            ids => planted.SelectMany(p => Enumerable.Range(0, HistoryDays + 1).Select(d =>
                new DayRow(ids[p.Key], firstDay.AddDays(d), p.Values.AsSpan(d * Day, Day).ToArray()))),
            cancellationToken);
        var lastHistoryDay = ScoringDay.AddDays(-1);
        await clustering.RunAsync(lastHistoryDay, HistoryDays, cancellationToken);
        trainingOptions.Iterations = iterations;
        trainingOptions.HistoryDays = HistoryDays;
        await training.TrainAsync(lastHistoryDay, trainingOptions, cancellationToken);
        await scoring.RunAsync(new ScoringRequest(RunKind.Nightly, ScoringDay, "eval inject"), cancellationToken);

        var flags = new HashSet<(string, int)>();
        foreach (var flag in await queries.FlaggedOnAsync(ScoringDay, cancellationToken))
        {
            flags.Add((flag.SeriesKey, flag.Ts.Hour));
        }
        var scores = new List<InjectionScore>();
        foreach (var kind in Enum.GetValues<InjectedKind>())
        {
            var members = planted.Where(p => p.Kind == kind).Select(p => (p.Key, p.Truth[^Day..])).ToList();
            scores.Add(Score(kind.ToString(), members, flags));
        }
        scores.Add(Score("all", planted.Select(p => (p.Key, p.Truth[^Day..])).ToList(), flags));
        return scores;
    }

    private static InjectionScore Score(string name, List<(string Key, bool[] Truth)> members, HashSet<(string, int)> flags)
    {
        var pointWise = default(DetectionMetrics);
        var adjusted = default(DetectionMetrics);
        int events = 0;
        int found = 0;
        int flaggedDays = 0;
        int flaggedOnEvent = 0;
        int clean = 0;
        int cleanFlagged = 0;
        var flagged = new bool[Day];
        var counted = Enumerable.Repeat(true, Day).ToArray();
        foreach (var (key, truth) in members)
        {
            bool any = false;
            bool onEvent = false;
            for (int h = 0; h < Day; h++)
            {
                flagged[h] = flags.Contains((key, h));
                pointWise = pointWise.Add(flagged[h], truth[h]);
                any |= flagged[h];
                onEvent |= flagged[h] && truth[h];
            }
            adjusted = DelayAdjusted.Add(adjusted, flagged, truth, counted, SyntheticEvaluation.Delay);
            if (truth.Contains(true))
            {
                events++;
                found += onEvent ? 1 : 0;
            }
            else
            {
                clean++;
                cleanFlagged += any ? 1 : 0;
            }
            flaggedDays += any ? 1 : 0;
            flaggedOnEvent += onEvent ? 1 : 0;
        }
        return new InjectionScore(name, members.Count, events, pointWise, adjusted,
            events == 0 ? double.NaN : (double)found / events,
            flaggedDays == 0 ? double.NaN : (double)flaggedOnEvent / flaggedDays,
            clean == 0 ? double.NaN : (double)cleanFlagged / clean);
    }

    /// <summary>Plants one anomaly of <paramref name="kind"/> on the last day, at a random hour, sized by the series' typical change.</summary>
    private static void Plant(float[] values, bool[] truth, InjectedKind kind, Random random)
    {
        if (kind == InjectedKind.None)
        {
            return;
        }
        int dayStart = values.Length - Day;
        var changes = new float[dayStart - 1];
        for (int t = 1; t < dayStart; t++)
        {
            changes[t - 1] = Math.Abs(values[t] - values[t - 1]);
        }
        Array.Sort(changes);
        // The median absolute change: robust to the series' own spikes.
        float typical = Math.Max(changes[changes.Length / 2], 1e-3f * Math.Abs(values[dayStart - 1]));
        float size = (float)((random.Next(2) == 0 ? -1 : 1) * (6 + (6 * random.NextDouble())) * typical);
        int start = dayStart + random.Next(Day - 6);
        int end = kind == InjectedKind.Spike ? start + 1 : values.Length;
        for (int t = start; t < end; t++)
        {
            float offset = kind switch
            {
                InjectedKind.Spike or InjectedKind.LevelShift => size,
                // Noise four times the typical change around the same path.
                InjectedKind.VarianceChange => (float)(4 * typical * SyntheticSeriesGenerator.Normal(random)),
                // A new slope that reaches the full size within six hours.
                _ => size * (t - start + 1) / 6f,
            };
            values[t] += offset;
            truth[t] = true;
        }
    }
}
