using System.Diagnostics;
using System.Text.Json;
using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Core.Series;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Core.Work;
using AnomalyMeta.Learning;
using AnomalyMeta.Scoring.Batches;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Microsoft.Extensions.Logging;

namespace AnomalyMeta.Scoring.Training;

/// <summary>What training produced for one cluster.</summary>
public sealed record TrainedCluster(int ClusterId, int ModelId, int SeriesUsed, int SeasonLength, double MetaLoss, double Seconds);

/// <summary>A cluster that got no model, and why (its series fall back to the generic model of their step).</summary>
public sealed record SkippedCluster(int ClusterId, string Reason);

/// <summary>A generic model trained for a sampling step.</summary>
public sealed record TrainedGeneric(int StepSeconds, int ModelId, int SeasonLength, double MetaLoss, double Seconds);

/// <summary>Everything one training pass did; <paramref name="LiveClustering"/> is the clustering it put live.</summary>
public sealed record TrainingReport(IReadOnlyList<TrainedCluster> Trained, IReadOnlyList<SkippedCluster> Skipped, IReadOnlyList<TrainedGeneric> Generic,
    int? LiveClustering = null);

/// <summary>
/// Trains one meta-learner per cluster of the latest clustering, on tasks cut from a sample of the cluster's series
/// (history up to <c>lastHistoryDay</c>), and stores each as a new model version. A cluster that cannot be trained
/// (too little history for its season) is reported and skipped; the others are trained. Every sampling step met in
/// the fleet also gets a generic meta-learner, trained once on generated series, that scores a series until its
/// cluster has a model of its own: so a series is scored from its second day. Once training has been through every
/// cluster, the clustering goes live; a pass stopped half-way (an error, a cancel) leaves the previous one scoring.
/// </summary>
public sealed class MetaTrainingStep(SeriesRepository series, ClusteringStore clusterings, ModelStore models, ILogger<MetaTrainingStep> logger)
{
    /// <summary>Generated series a generic model is trained on.</summary>
    private const int GenericSeriesCount = 400;

    public Task<TrainingReport> TrainAsync(DateOnly lastHistoryDay, TrainingOptions options, CancellationToken cancellationToken) =>
        TrainAsync(lastHistoryDay, options, onlyClusters: null, cancellationToken);

    /// <summary>
    /// With <paramref name="onlyClusters"/>: retrains those clusters of the live clustering only (a drift check's early
    /// retraining), each getting a new model version that scores from the next run; the clustering stays live.
    /// </summary>
    public Task<TrainingReport> TrainAsync(DateOnly lastHistoryDay, TrainingOptions options, IReadOnlySet<int>? onlyClusters,
        CancellationToken cancellationToken) =>
        TrainAsync(lastHistoryDay, options, onlyClusters, progress: null, cancellationToken);

    /// <summary>Training that reports the models done (the generic model of every step met, then every cluster's) of their total.</summary>
    public async Task<TrainingReport> TrainAsync(DateOnly lastHistoryDay, TrainingOptions options, IReadOnlySet<int>? onlyClusters,
        IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var clustering = onlyClusters is null ? await clusterings.LoadLatestAsync(cancellationToken) : await clusterings.LoadLiveAsync(cancellationToken);
        var (samples, steps) = await SampleHistoriesAsync(clustering?.Version, lastHistoryDay, options, cancellationToken);
        MetaLearner.UseTorchThreads(options.TorchThreads);

        var clusters = (clustering?.Clusters ?? []).Where(c => onlyClusters is null || onlyClusters.Contains(c.ClusterId)).ToList();
        long modelsTotal = steps.Count + clusters.Count;
        progress?.Report(new WorkProgress("training", 0, modelsTotal, "models"));
        var generic = await TrainGenericModelsAsync(steps, options, cancellationToken);
        long modelsDone = steps.Count;
        progress?.Report(new WorkProgress("training", modelsDone, modelsTotal, "models"));
        var trained = new List<TrainedCluster>();
        var skipped = new List<SkippedCluster>();
        foreach (var cluster in clusters)
        {
            string? reason = null;
            if (!samples.TryGetValue(cluster.ClusterId, out var sample) || sample.Histories.Count == 0)
            {
                reason = $"none of its series has observations in the {options.HistoryDays} days up to {lastHistoryDay:yyyy-MM-dd}";
            }
            else
            {
                try
                {
                    trained.Add(await TrainClusterAsync(clustering!.Version, cluster, sample, options, cancellationToken));
                }
                catch (ArgumentException exception)
                {
                    // One cluster too young for its season must not stop the others: its series use the generic model.
                    reason = exception.Message;
                }
            }
            if (reason is not null)
            {
                logger.SkippedCluster(cluster.ClusterId, reason);
                skipped.Add(new SkippedCluster(cluster.ClusterId, reason));
            }
            progress?.Report(new WorkProgress("training", ++modelsDone, modelsTotal, "models"));
        }
        if (clustering is not null && onlyClusters is null)
        {
            await clusterings.MarkLiveAsync(clustering.Version, cancellationToken);
            logger.ClusteringLive(clustering.Version, trained.Count, skipped.Count);
        }
        return new TrainingReport(trained, skipped, generic, clustering?.Version);
    }

    private async Task<TrainedCluster> TrainClusterAsync(int clusterVersion, ClusterSummary cluster, ClusterSample sample,
        TrainingOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        int primary = cluster.PrimaryPeriod ?? 0;
        int secondary = cluster.SecondaryPeriod ?? 0;
        // A cluster keeps one sampling step: its most common one. Members of other steps use their step's generic model.
        int pointsPerDay = sample.MajorityPointsPerDay();
        var histories = sample.Histories.Where(h => h.PointsPerDay == pointsPerDay).Select(h => h.History).ToList();
        int season = ScoringModel.SupportSeason(primary, secondary, pointsPerDay);
        var sampler = new OneStepTaskSampler(histories, primary, season, ScoringModel.SeasonalLagOf(primary, pointsPerDay),
            OneStepTask.WeekOf(pointsPerDay), pointsPerDay);
        var (checkpoint, report) = Train(sampler, season, pointsPerDay, options, options.Seed + cluster.ClusterId, cancellationToken);
        var configuration = new ModelConfiguration(options.Algorithm.ToString(), pointsPerDay, primary, secondary, season,
            options.InnerSteps, options.Iterations, sampler.SeriesCount, ModelConfiguration.OneStepEncoding);
        int modelId = await models.SaveAsync(clusterVersion, cluster.ClusterId, options.Algorithm.ToString(),
            configuration.ToJson(), Metrics(report), checkpoint, cancellationToken);
        logger.TrainedCluster(cluster.ClusterId, season, sampler.SeriesCount, report.FinalMetaLoss, clock.ElapsedMilliseconds);
        return new TrainedCluster(cluster.ClusterId, modelId, sampler.SeriesCount, season, report.FinalMetaLoss, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Trains the generic model of every step that has none of the current task encoding yet.</summary>
    private async Task<List<TrainedGeneric>> TrainGenericModelsAsync(IReadOnlySet<int> steps, TrainingOptions options, CancellationToken cancellationToken)
    {
        var existing = new HashSet<int>();
        foreach (var model in await models.LoadGenericAsync(cancellationToken))
        {
            if (ModelConfiguration.FromJson(model.ConfigurationJson, model.ModelId).IsOneStep)
            {
                existing.Add(model.StepSeconds);
            }
        }
        var trained = new List<TrainedGeneric>();
        foreach (int step in steps.Order())
        {
            if (existing.Contains(step))
            {
                continue;
            }
            var clock = Stopwatch.StartNew();
            int pointsPerDay = 86400 / step;
            int season = ScoringModel.GenericSeason(pointsPerDay);
            int days = ((season + OneStepTask.Lead(pointsPerDay, OneStepTask.WeekOf(pointsPerDay)) + pointsPerDay - 1) / pointsPerDay) + 7;
            var generator = new GenericSeriesGenerator(pointsPerDay, days, options.Seed);
            var histories = new List<TrainingHistory>(GenericSeriesCount);
            long firstIndex = (long)new DateOnly(2026, 1, 5).DayNumber * pointsPerDay;
            for (int i = 0; i < GenericSeriesCount; i++)
            {
                histories.Add(new TrainingHistory(-1 - i, firstIndex, generator.Generate(i)));
            }
            var sampler = new OneStepTaskSampler(histories, 0, season, ScoringModel.SeasonalLagOf(0, pointsPerDay),
                OneStepTask.WeekOf(pointsPerDay), pointsPerDay);
            var (checkpoint, report) = Train(sampler, season, pointsPerDay, options, options.Seed + step, cancellationToken);
            var configuration = new ModelConfiguration(options.Algorithm.ToString(), pointsPerDay, 0, 0, season,
                options.InnerSteps, options.Iterations, GenericSeriesCount, ModelConfiguration.OneStepEncoding);
            int modelId = await models.SaveGenericAsync(step, options.Algorithm.ToString(), configuration.ToJson(), Metrics(report), checkpoint, cancellationToken);
            logger.TrainedGeneric(step, season, report.FinalMetaLoss, clock.ElapsedMilliseconds);
            trained.Add(new TrainedGeneric(step, modelId, season, report.FinalMetaLoss, clock.Elapsed.TotalSeconds));
        }
        return trained;
    }

    private static (byte[] Checkpoint, MetaTrainingReport Report) Train(OneStepTaskSampler sampler, int season, int query,
        TrainingOptions options, int seed, CancellationToken cancellationToken)
    {
        var learnerOptions = new MetaLearnerOptions
        {
            InputSize = OneStepTask.InputSize,
            Algorithm = options.Algorithm,
            InnerSteps = options.InnerSteps,
            InnerLearningRate = options.InnerLearningRate,
            MetaBatchSize = options.MetaBatchSize,
            Seed = seed,
        };
        using var learner = MetaLearner.Create(learnerOptions);
        var report = learner.Train(sampler, options.Iterations, OneStepTaskSampler.SupportSize(season), query, cancellationToken);
        using var checkpoint = new MemoryStream();
        learner.Save(checkpoint);
        return (checkpoint.ToArray(), report);
    }

    private static string Metrics(MetaTrainingReport report) => JsonSerializer.Serialize(new
    {
        final_meta_loss = report.FinalMetaLoss,
        iterations_per_second = report.IterationsPerSecond,
        seconds = report.ElapsedSeconds,
    });

    private sealed class ClusterSample
    {
        public List<(int PointsPerDay, TrainingHistory History)> Histories { get; } = [];

        public int MajorityPointsPerDay() => Histories.GroupBy(h => h.PointsPerDay).MaxBy(g => g.Count())!.Key;
    }

    /// <summary>
    /// A uniform sample of each cluster's histories: PostgreSQL picks up to MaxSeriesPerCluster series per cluster
    /// (a hash order of the ids under the training seed), and only those are read, so training reads clusters ×
    /// MaxSeriesPerCluster histories however many series there are (a full pass over 500,000 series took 50 s).
    /// A history starts at the series' first observation: a young series is not judged by the empty days before it
    /// existed; one mostly missing is left out.
    /// </summary>
    private async Task<(Dictionary<int, ClusterSample> Samples, IReadOnlySet<int> Steps)> SampleHistoriesAsync(int? clusterVersion,
        DateOnly lastDay, TrainingOptions options, CancellationToken cancellationToken)
    {
        var samples = new Dictionary<int, ClusterSample>();
        var (ids, steps) = await series.SampleForTrainingAsync(clusterVersion ?? -1, options.MaxSeriesPerCluster, options.Seed, cancellationToken);
        await foreach (var batch in series.ReadHistoryOfAsync(ids, lastDay, options.HistoryDays, 4096, cancellationToken))
        {
            var all = batch.Series;
            for (int i = 0; i < all.Length; i++)
            {
                var history = all[i];
                if (history.ClusterVersion != clusterVersion || history.ClusterId is not int clusterId)
                {
                    continue;
                }
                var points = batch.PointsOf(i);
                int first = 0;
                while (first < points.Length && float.IsNaN(points[first]))
                {
                    first++;
                }
                if (first == points.Length)
                {
                    continue;
                }
                var values = points[first..].ToArray();
                if (WindowRepair.FillGaps(values) * 2 < values.Length)
                {
                    continue;
                }
                long firstIndex = ((long)batch.FirstDay.DayNumber * history.PointsPerDay) + first;
                int[]? shift = null;
                if (history.TimeZone != "UTC")
                {
                    shift = new int[values.Length];
                    LocalTime.Shifts(firstIndex, history.StepSeconds, LocalTime.Zone(history.TimeZone), shift);
                }
                if (!samples.TryGetValue(clusterId, out var sample))
                {
                    samples[clusterId] = sample = new ClusterSample();
                }
                sample.Histories.Add((history.PointsPerDay, new TrainingHistory(history.SeriesId, firstIndex, values, shift)));
            }
        }
        return (samples, steps);
    }
}
