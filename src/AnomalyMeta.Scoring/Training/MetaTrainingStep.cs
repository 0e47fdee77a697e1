using System.Diagnostics;
using System.Text.Json;
using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Core.Series;
using AnomalyMeta.Learning;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Microsoft.Extensions.Logging;

namespace AnomalyMeta.Scoring.Training;

/// <summary>What training produced for one cluster.</summary>
public sealed record TrainedCluster(int ClusterId, int ModelId, int SeriesUsed, int SeasonLength, double MetaLoss, double Seconds);

/// <summary>
/// Trains one meta-learner per cluster of the latest clustering, on tasks cut from a sample of the cluster's series
/// (history up to the day before <c>asOf</c>), and stores each as a new model version.
/// </summary>
public sealed class MetaTrainingStep(SeriesRepository series, ClusteringStore clusterings, ModelStore models, ILogger<MetaTrainingStep> logger)
{
    public async Task<IReadOnlyList<TrainedCluster>> TrainAsync(DateOnly lastHistoryDay, TrainingOptions options, CancellationToken cancellationToken)
    {
        var clustering = await clusterings.LoadLatestAsync(cancellationToken)
            ?? throw new InvalidOperationException("No clustering in the database: run `anomalymeta cluster` first.");
        var samples = await SampleHistoriesAsync(clustering.Version, lastHistoryDay, options, cancellationToken);
        MetaLearner.UseTorchThreads(options.TorchThreads);

        var trained = new List<TrainedCluster>();
        foreach (var cluster in clustering.Clusters)
        {
            if (!samples.TryGetValue(cluster.ClusterId, out var sample) || sample.Histories.Count == 0)
            {
                continue;
            }
            trained.Add(await TrainClusterAsync(clustering.Version, cluster, sample, options, cancellationToken));
        }
        return trained;
    }

    private async Task<TrainedCluster> TrainClusterAsync(int clusterVersion, ClusterSummary cluster, ClusterSample sample,
        TrainingOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        int primary = cluster.PrimaryPeriod ?? 0;
        int secondary = cluster.SecondaryPeriod ?? 0;
        int season = SeasonalTask.SeasonLength(primary, secondary, sample.PointsPerDay);
        int query = sample.PointsPerDay;
        var sampler = new SeriesTaskSampler(sample.Histories, primary, season, season + query);
        var learnerOptions = new MetaLearnerOptions
        {
            InputSize = SeasonalTask.InputSize,
            Algorithm = options.Algorithm,
            InnerSteps = options.InnerSteps,
            InnerLearningRate = options.InnerLearningRate,
            MetaBatchSize = options.MetaBatchSize,
            Seed = options.Seed + cluster.ClusterId,
        };
        using var learner = MetaLearner.Create(learnerOptions);
        var report = learner.Train(sampler, options.Iterations, season, query, cancellationToken);

        using var checkpoint = new MemoryStream();
        learner.Save(checkpoint);
        var configuration = new ModelConfiguration(options.Algorithm.ToString(), sample.PointsPerDay, primary, secondary, season,
            options.InnerSteps, options.Iterations, sample.Histories.Count);
        string metrics = JsonSerializer.Serialize(new
        {
            final_meta_loss = report.FinalMetaLoss,
            iterations_per_second = report.IterationsPerSecond,
            seconds = report.ElapsedSeconds,
        });
        int modelId = await models.SaveAsync(clusterVersion, cluster.ClusterId, options.Algorithm.ToString(),
            configuration.ToJson(), metrics, checkpoint.ToArray(), cancellationToken);
        logger.TrainedCluster(cluster.ClusterId, season, sample.Histories.Count, report.FinalMetaLoss, clock.ElapsedMilliseconds);
        return new TrainedCluster(cluster.ClusterId, modelId, sample.Histories.Count, season, report.FinalMetaLoss, clock.Elapsed.TotalSeconds);
    }

    private sealed class ClusterSample(int pointsPerDay)
    {
        public int PointsPerDay { get; } = pointsPerDay;
        public List<TrainingHistory> Histories { get; } = [];
        public int Seen { get; set; }
    }

    /// <summary>
    /// One pass over all series, keeping a uniform sample of each cluster's histories (reservoir sampling), so
    /// memory stays bounded by clusters × MaxSeriesPerCluster however many series there are.
    /// </summary>
    private async Task<Dictionary<int, ClusterSample>> SampleHistoriesAsync(int clusterVersion, DateOnly lastDay,
        TrainingOptions options, CancellationToken cancellationToken)
    {
        var random = new Random(options.Seed);
        var samples = new Dictionary<int, ClusterSample>();
        await foreach (var batch in series.ReadHistoryAsync(lastDay, options.HistoryDays, 4096, cancellationToken))
        {
            var all = batch.Series;
            for (int i = 0; i < all.Length; i++)
            {
                var history = all[i];
                if (history.ClusterVersion != clusterVersion || history.ClusterId is not int clusterId)
                {
                    continue;
                }
                if (!samples.TryGetValue(clusterId, out var sample))
                {
                    samples[clusterId] = sample = new ClusterSample(history.PointsPerDay);
                }
                sample.Seen++;
                int slot = sample.Histories.Count < options.MaxSeriesPerCluster ? sample.Histories.Count : random.Next(sample.Seen);
                if (slot >= options.MaxSeriesPerCluster)
                {
                    continue;
                }
                var values = batch.PointsOf(i).ToArray();
                if (WindowRepair.FillGaps(values) * 2 < values.Length)
                {
                    continue;
                }
                var entry = new TrainingHistory(history.SeriesId, (long)batch.FirstDay.DayNumber * history.PointsPerDay, values);
                if (slot == sample.Histories.Count)
                {
                    sample.Histories.Add(entry);
                }
                else
                {
                    sample.Histories[slot] = entry;
                }
            }
        }
        return samples;
    }
}
