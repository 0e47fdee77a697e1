using AnomalyMeta.Scoring;
using System.Diagnostics;
using System.Globalization;
using AnomalyMeta.Core.Work;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Benchmarks.Evaluation.Nab;

/// <summary>How the walk re-clusters and retrains, as a deployment would schedule it.</summary>
public sealed record NabWalkOptions
{
    /// <summary>Re-cluster and retrain every this many days (new series are assigned every morning in between).</summary>
    public int RetrainDays { get; init; } = 7;

    /// <summary>Days of history clustering and training read.</summary>
    public int HistoryDays { get; init; } = 28;

    /// <summary>Meta-iterations per cluster at each retraining.</summary>
    public int Iterations { get; init; } = 300;
}

/// <summary>What the walk did, and every data row's score.</summary>
public sealed record NabWalkResult(
    IReadOnlyList<NabDetections> Detections,
    int SeriesDaysWithData,
    int SeriesDaysScored,
    int Mornings,
    int Retrainings,
    double Seconds)
{
    /// <summary>Share of series-days with data, after each series' first day, that were scored.</summary>
    public double Coverage => SeriesDaysWithData == 0 ? 0 : (double)SeriesDaysScored / SeriesDaysWithData;
}

/// <summary>
/// Walks the product's own pipeline forward over a NAB-layout corpus, morning by morning, as an operator would run
/// it: every file is one series, ingested through <see cref="CsvIngest"/> (step inferred, off-grid timestamps
/// aggregated onto it); each morning scores the previous day's arrivals with the models of the history before it:
/// new series are assigned to the live clustering every morning, and clustering and meta-learners are rebuilt every
/// <see cref="NabWalkOptions.RetrainDays"/> days. Each data row then gets the score its scoring run stored.
/// The database must be a throwaway one: the walk fills it.
/// </summary>
public sealed class NabWalk(
    CsvIngest ingest,
    ClusteringStep clustering,
    MetaTrainingStep training,
    MorningScoring scoring,
    AnomalyQueries queries,
    TrainingOptions trainingOptions)
{
    public Task<NabWalkResult> RunAsync(NabCorpus corpus, NabWalkOptions options, IProgress<string>? progress, CancellationToken cancellationToken) =>
        RunAsync(corpus, options, progress, null, cancellationToken);

    /// <summary>The walk, reporting its notes to <paramref name="progress"/> and each morning walked of all to <paramref name="walked"/>.</summary>
    public async Task<NabWalkResult> RunAsync(NabCorpus corpus, NabWalkOptions options, IProgress<string>? progress, IProgress<WorkProgress>? walked,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        string csv = Path.Combine(Path.GetTempPath(), $"anomalymeta-nab-{Guid.NewGuid():N}.csv");
        try
        {
            WriteObservations(corpus, csv);
            var report = await ingest.IngestAsync(csv, new CsvIngestOptions(), cancellationToken);
            progress?.Report($"ingested {report.Rows:N0} rows of {report.Series} series ({report.AggregatedPoints:N0} points aggregated)");
        }
        finally
        {
            File.Delete(csv);
        }

        var days = new SortedSet<DateOnly>();
        foreach (var file in corpus.Files)
        {
            foreach (var ts in file.Timestamps)
            {
                days.Add(DateOnly.FromDateTime(ts));
            }
        }

        trainingOptions.Iterations = options.Iterations;
        trainingOptions.HistoryDays = options.HistoryDays;
        DateOnly? lastRetrain = null;
        int mornings = 0;
        int retrainings = 0;
        foreach (var day in days)
        {
            var lastHistoryDay = day.AddDays(-1);
            if (lastRetrain is null || day.DayNumber - lastRetrain.Value.DayNumber >= options.RetrainDays)
            {
                if (await TryClusterAsync(lastHistoryDay, options.HistoryDays, cancellationToken))
                {
                    lastRetrain = day;
                    retrainings++;
                }
                await training.TrainAsync(lastHistoryDay, trainingOptions, cancellationToken);
            }
            else
            {
                await clustering.AssignNewAsync(lastHistoryDay, options.HistoryDays, cancellationToken);
            }
            await scoring.RunAsync(new ScoringRequest(RunKind.Nightly, day, "eval nab"), cancellationToken);
            mornings++;
            walked?.Report(new WorkProgress("mornings", mornings, days.Count, "mornings"));
            if (mornings % 25 == 0)
            {
                progress?.Report($"{mornings} of {days.Count} mornings walked, {clock.Elapsed.TotalSeconds:F0} s");
            }
        }

        var scored = await queries.ScoredDaysAsync(cancellationToken);
        return Collect(corpus, scored, mornings, retrainings, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Clusters the history so far; false when no series has any yet (the generic models score meanwhile).</summary>
    private async Task<bool> TryClusterAsync(DateOnly lastHistoryDay, int historyDays, CancellationToken cancellationToken)
    {
        try
        {
            await clustering.RunAsync(lastHistoryDay, historyDays, cancellationToken);
            return true;
        }
        catch (InvalidOperationException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>The corpus as the long CSV `ingest` reads: series_key,timestamp,value, one file one series.</summary>
    private static void WriteObservations(NabCorpus corpus, string path)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine("series_key,timestamp,value");
        foreach (var file in corpus.Files)
        {
            for (int i = 0; i < file.Timestamps.Length; i++)
            {
                writer.Write(file.RelativePath);
                writer.Write(',');
                writer.Write(file.Timestamps[i].ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
                writer.Write(',');
                writer.WriteLine(file.Values[i].ToString("R", CultureInfo.InvariantCulture));
            }
        }
    }

    /// <summary>Each data row gets the score of its step slot on its day (0 where its day was not scored).</summary>
    private static NabWalkResult Collect(NabCorpus corpus, IReadOnlyList<ScoredDay> scored, int mornings, int retrainings, double seconds)
    {
        var byDay = new Dictionary<(string Key, DateOnly Day), ScoredDay>();
        foreach (var day in scored)
        {
            byDay[(day.SeriesKey, day.AsOf)] = day;
        }
        var detections = new List<NabDetections>(corpus.Files.Count);
        int withData = 0;
        int scoredDays = 0;
        foreach (var file in corpus.Files)
        {
            var scores = new double[file.Timestamps.Length];
            var seen = new HashSet<DateOnly>();
            DateOnly? firstDay = null;
            for (int i = 0; i < file.Timestamps.Length; i++)
            {
                var ts = file.Timestamps[i];
                var day = DateOnly.FromDateTime(ts);
                firstDay ??= day;
                bool newDay = seen.Add(day) && day != firstDay;
                withData += newDay ? 1 : 0;
                if (!byDay.TryGetValue((file.RelativePath, day), out var scoredDay))
                {
                    continue;
                }
                scoredDays += newDay ? 1 : 0;
                int slot = (int)(ts.TimeOfDay.TotalSeconds / scoredDay.StepSeconds);
                float score = scoredDay.Scores[slot];
                scores[i] = float.IsNaN(score) ? 0 : score;
            }
            detections.Add(new NabDetections(file.RelativePath, file.Timestamps, scores));
        }
        return new NabWalkResult(detections, withData, scoredDays, mornings, retrainings, seconds);
    }
}
