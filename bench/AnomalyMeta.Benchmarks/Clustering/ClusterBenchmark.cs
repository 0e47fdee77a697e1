using AnomalyMeta.Scoring;
using System.Diagnostics;
using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Learning;
using AnomalyMeta.Periodicity;
using AnomalyMeta.Benchmarks;
using AnomalyMeta.Scoring.Training;
using TorchSharp;

namespace AnomalyMeta.Benchmarks;

/// <summary>Settings of <see cref="ClusterBenchmark"/>.</summary>
public sealed record ClusterBenchmarkOptions
{
    /// <summary>Meta-training iterations summed over all per-cluster learners; the global learner gets the same total.</summary>
    public int TotalIterations { get; init; } = 3000;

    /// <summary>Fewest iterations a cluster's learner gets, whatever its share of the series.</summary>
    public int MinIterationsPerCluster { get; init; } = 300;

    /// <summary>The global learner trains round-robin over the clusters' task streams in chunks of this many iterations.</summary>
    public int GlobalChunk { get; init; } = 200;

    /// <summary>Inner SGD steps at forecast time; training draws 1..InnerSteps per meta-batch (Meta-SGD "any steps").</summary>
    public int InnerSteps { get; init; } = 3;

    /// <summary>Longest support window (season) in points.</summary>
    public int MaxSupport { get; init; } = 168;

    /// <summary>
    /// Season (support K) of aperiodic clusters. The scoring layer's default of one day (24 points) is meant for
    /// hourly data; most aperiodic M4 series here are weekly, where a shorter window follows the level better.
    /// </summary>
    public int AperiodicSeason { get; init; } = 24;

    public int Seed { get; init; } = 1;

    /// <summary>Clustering settings (M4 has few series, so clusters are allowed from 25 series).</summary>
    public ClusteringOptions Clustering { get; init; } = new() { MinClusterSize = 25, MaxClustersPerGroup = 4 };
}

/// <summary>MASE of one method on one data set.</summary>
/// <param name="Method">per_cluster, global, seasonal_naive.</param>
/// <param name="Dataset">Hourly, Weekly or Combined.</param>
/// <param name="Mase">Mean over series of the MASE.</param>
/// <param name="Series">Series averaged.</param>
public readonly record struct MaseCell(string Method, string Dataset, double Mase, int Series);

/// <summary>One cluster of the run.</summary>
public sealed record ClusterRun(int Id, int PrimaryPeriod, int SecondaryPeriod, int HourlySeries, int WeeklySeries, int SupportSize, int Iterations, double FinalMetaLoss);

/// <summary>Outcome of <see cref="ClusterBenchmark.Run"/>.</summary>
public sealed record ClusterBenchmarkResult(
    double MasePerCluster,
    double MaseGlobal,
    IReadOnlyList<MaseCell> Cells,
    IReadOnlyList<ClusterRun> Clusters,
    double PerClusterTrainingSeconds,
    double GlobalTrainingSeconds,
    double ElapsedSeconds);

/// <summary>
/// `anomalymeta bench clusters`: forecast error (MASE) on the M4 Hourly and Weekly test horizons with one
/// meta-learner per periodicity cluster versus one global meta-learner trained on the same series, tasks and
/// iteration budget. Tasks follow the scoring layer: support = the last season of K points (K = the cluster's season,
/// capped), inputs = positions in the primary period and in the season (<see cref="SeasonalTask"/>), targets
/// z-normalised by the support window; query = the points that follow (the data set's horizon).
/// </summary>
public static class ClusterBenchmark
{
    /// <summary>Forecast horizons and MASE seasonality of the M4 competition (Makridakis et al. 2020).</summary>
    private static readonly (string Name, int Horizon, int MaseSeason)[] Datasets = [("Hourly", 48, 24), ("Weekly", 13, 1)];

    public static ClusterBenchmarkResult Run(string m4Directory, ClusterBenchmarkOptions options, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var stopwatch = Stopwatch.StartNew();
        torch.set_num_threads(1);
        List<Series> series = Load(m4Directory);

        // Periods, features and clusters from the training parts only.
        var detector = new PeriodDetector(new PeriodDetectorOptions());
        var profiles = new List<SeriesProfile>(series.Count);
        foreach (Series s in series)
        {
            profiles.Add(SeriesProfile.Create(s.Train, detector));
        }

        var clusterer = new PeriodicityClusterer();
        ClusterModel model = clusterer.Fit(profiles, options.Clustering);
        var members = new List<List<int>>();
        for (int c = 0; c < model.Clusters.Count; c++)
        {
            members.Add([]);
        }

        for (int i = 0; i < series.Count; i++)
        {
            series[i].Cluster = model.Assign(profiles[i]);
            members[series[i].Cluster].Add(i);
        }

        // One task stream per cluster; its iterations are proportional to its series (with a floor).
        var streams = new List<ClusterStream>();
        foreach (ClusterInfo cluster in model.Clusters)
        {
            List<int> clusterMembers = members[cluster.Id];
            if (clusterMembers.Count == 0)
            {
                continue;
            }

            int season = cluster.PrimaryPeriod > 0 ? cluster.SeasonLength : options.AperiodicSeason;
            int support = Math.Min(options.MaxSupport, season);
            int hourly = clusterMembers.Count(i => series[i].Dataset == 0);
            int query = hourly * 2 >= clusterMembers.Count ? Datasets[0].Horizon : Datasets[1].Horizon;
            int iterations = Math.Max(options.MinIterationsPerCluster, options.TotalIterations * clusterMembers.Count / series.Count);
            var histories = new List<TrainingHistory>(clusterMembers.Count);
            foreach (int i in clusterMembers)
            {
                histories.Add(new TrainingHistory(i, 0, series[i].Train));
            }
            var sampler = new SeriesTaskSampler(histories, cluster.PrimaryPeriod, season, support + query);
            streams.Add(new ClusterStream(cluster, sampler, support, query, iterations, hourly, clusterMembers.Count - hourly));
        }

        progress?.Invoke($"{series.Count} series in {streams.Count} clusters; training one learner per cluster");
        var perCluster = new Dictionary<int, MetaParameters>();
        var runs = new List<ClusterRun>();
        var perClusterWatch = Stopwatch.StartNew();
        foreach (ClusterStream stream in streams)
        {
            using var learner = MetaLearner.Create(LearnerOptions(options));
            MetaTrainingReport report = learner.Train(stream.Sampler, stream.Iterations, stream.Support, stream.Query);
            perCluster[stream.Cluster.Id] = learner.ExportParameters();
            runs.Add(new ClusterRun(
                stream.Cluster.Id, stream.Cluster.PrimaryPeriod, stream.Cluster.SecondaryPeriod, stream.Hourly, stream.Weekly,
                stream.Support, stream.Iterations, report.FinalMetaLoss));
            progress?.Invoke($"cluster {stream.Cluster.Id} ({stream.Cluster.PrimaryPeriod}/{stream.Cluster.SecondaryPeriod}, {stream.Hourly + stream.Weekly} series, K={stream.Support}): {stream.Iterations} iterations, meta-loss {report.FinalMetaLoss:F3}");
        }

        perClusterWatch.Stop();

        // The global learner sees the same task streams for the same total number of iterations: clusters sharing a
        // task shape (K, query) are pooled into one stream, each task drawn from a cluster in proportion to its
        // iterations; the pools take turns in chunks (the task shape is fixed within one Train call).
        progress?.Invoke("training the global learner on all clusters' tasks");
        var globalWatch = Stopwatch.StartNew();
        var pools = new List<(PooledSampler Sampler, int Support, int Query, int Iterations)>();
        foreach (var shape in streams.GroupBy(s => (s.Support, s.Query)))
        {
            var pooled = new PooledSampler([.. shape.Select(s => ((ITaskSampler)s.Sampler, (double)s.Iterations))]);
            pools.Add((pooled, shape.Key.Support, shape.Key.Query, shape.Sum(s => s.Iterations)));
        }

        MetaParameters global;
        using (var learner = MetaLearner.Create(LearnerOptions(options)))
        {
            var remaining = pools.ConvertAll(p => p.Iterations);
            bool any = true;
            while (any)
            {
                any = false;
                for (int p = 0; p < pools.Count; p++)
                {
                    int chunk = Math.Min(options.GlobalChunk, remaining[p]);
                    if (chunk <= 0)
                    {
                        continue;
                    }

                    learner.Train(pools[p].Sampler, chunk, pools[p].Support, pools[p].Query);
                    remaining[p] -= chunk;
                    any = true;
                }
            }

            global = learner.ExportParameters();
        }

        globalWatch.Stop();

        var cells = Evaluate(series, streams, perCluster, global, options.InnerSteps);
        double perClusterMase = cells.First(c => c.Method == "per_cluster" && c.Dataset == "Combined").Mase;
        double globalMase = cells.First(c => c.Method == "global" && c.Dataset == "Combined").Mase;
        return new ClusterBenchmarkResult(
            perClusterMase, globalMase, cells, runs, perClusterWatch.Elapsed.TotalSeconds, globalWatch.Elapsed.TotalSeconds, stopwatch.Elapsed.TotalSeconds);
    }

    private static MetaLearnerOptions LearnerOptions(ClusterBenchmarkOptions options) => new()
    {
        InputSize = SeasonalTask.InputSize,
        HiddenSizes = [40, 40],
        Algorithm = MetaAlgorithm.MetaSgd,
        InnerSteps = options.InnerSteps,
        SampleInnerSteps = options.InnerSteps > 1,
        InnerLearningRate = 0.01f,
        OuterLearningRate = 1e-3f,
        MetaBatchSize = 25,
        // The same seed for every learner, so that per-cluster and global start from the same initialisation.
        Seed = options.Seed,
    };

    /// <summary>MASE per method and data set: per-cluster learners, the global learner, and the seasonal naive forecast.</summary>
    private static List<MaseCell> Evaluate(
        List<Series> series, List<ClusterStream> streams, Dictionary<int, MetaParameters> perCluster, MetaParameters global, int steps)
    {
        var perClusterMase = new double[series.Count];
        var globalMase = new double[series.Count];
        var naiveMase = new double[series.Count];
        var globalAdapter = new FastAdapter(global);
        foreach (ClusterStream stream in streams)
        {
            var adapter = new FastAdapter(perCluster[stream.Cluster.Id]);
            for (int d = 0; d < Datasets.Length; d++)
            {
                var indices = new List<int>();
                for (int i = 0; i < series.Count; i++)
                {
                    if (series[i].Cluster == stream.Cluster.Id && series[i].Dataset == d)
                    {
                        indices.Add(i);
                    }
                }

                if (indices.Count == 0)
                {
                    continue;
                }

                Forecast(series, indices, stream, Datasets[d].Horizon, adapter, steps, perClusterMase);
                Forecast(series, indices, stream, Datasets[d].Horizon, globalAdapter, steps, globalMase);
                foreach (int i in indices)
                {
                    naiveMase[i] = Mase(series[i], SeasonalNaive(series[i]));
                }
            }
        }

        var cells = new List<MaseCell>();
        foreach ((string method, double[] values) in new[] { ("per_cluster", perClusterMase), ("global", globalMase), ("seasonal_naive", naiveMase) })
        {
            for (int d = 0; d <= Datasets.Length; d++)
            {
                double sum = 0;
                int count = 0;
                for (int i = 0; i < series.Count; i++)
                {
                    if (d == Datasets.Length || series[i].Dataset == d)
                    {
                        sum += values[i];
                        count++;
                    }
                }

                cells.Add(new MaseCell(method, d == Datasets.Length ? "Combined" : Datasets[d].Name, sum / count, count));
            }
        }

        return cells;
    }

    /// <summary>Adapts on the last K training points of each series and forecasts its test horizon, in one batch.</summary>
    private static void Forecast(
        List<Series> series, List<int> indices, ClusterStream stream, int horizon, FastAdapter adapter, int steps, double[] mase)
    {
        int inputs = SeasonalTask.InputSize;
        int count = indices.Count;
        int support = stream.Support;
        var supportX = new float[count * support * inputs];
        var supportY = new float[count * support];
        var queryX = new float[count * horizon * inputs];
        var predictions = new float[count * horizon];
        var means = new float[count];
        var scales = new float[count];
        for (int j = 0; j < count; j++)
        {
            Series s = series[indices[j]];
            // Series shorter than K adapt on what they have: the support's first points repeat the oldest value.
            int available = Math.Min(support, s.Train.Length);
            Span<float> window = supportY.AsSpan(j * support, support);
            s.Train.AsSpan(s.Train.Length - available).CopyTo(window[(support - available)..]);
            window[..(support - available)].Fill(window[support - available]);
            SeasonalTask.TryNormalisation(window, out means[j], out scales[j]);
            SeasonalTask.Normalise(window, means[j], scales[j], window);
            long first = s.Train.Length - support;
            SeasonalTask.EncodeInputs(first, support, stream.Sampler.PrimaryPeriod, stream.Sampler.SeasonLength, supportX.AsSpan(j * support * inputs, support * inputs));
            SeasonalTask.EncodeInputs(s.Train.Length, horizon, stream.Sampler.PrimaryPeriod, stream.Sampler.SeasonLength, queryX.AsSpan(j * horizon * inputs, horizon * inputs));
        }

        adapter.AdaptAndPredict(count, support, supportX, supportY, horizon, queryX, steps, predictions);
        var forecast = new float[horizon];
        for (int j = 0; j < count; j++)
        {
            for (int h = 0; h < horizon; h++)
            {
                forecast[h] = (predictions[(j * horizon) + h] * scales[j]) + means[j];
            }

            mase[indices[j]] = Mase(series[indices[j]], forecast);
        }
    }

    /// <summary>M4 benchmark: repeat the last season (m = 24 Hourly, m = 1 Weekly: the naive forecast).</summary>
    private static float[] SeasonalNaive(Series s) => M4Metrics.SeasonalNaive(s.Train, Datasets[s.Dataset].MaseSeason, s.Test.Length);

    private static double Mase(Series s, ReadOnlySpan<float> forecast) => M4Metrics.Mase(s.Train, s.Test, forecast, Datasets[s.Dataset].MaseSeason);

    private static List<Series> Load(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"--m4 {directory}: directory not found.");
        }

        var series = new List<Series>();
        for (int d = 0; d < Datasets.Length; d++)
        {
            string trainPath = Path.Combine(directory, $"{Datasets[d].Name}-train.csv");
            string testPath = Path.Combine(directory, $"{Datasets[d].Name}-test.csv");
            IReadOnlyList<M4Series> train = M4File.Read(trainPath);
            var test = M4File.Read(testPath).ToDictionary(s => s.Id, StringComparer.Ordinal);
            foreach (M4Series s in train)
            {
                if (!test.TryGetValue(s.Id, out M4Series? horizon))
                {
                    throw new InvalidDataException($"{Path.GetFileName(testPath)}: no row for series '{s.Id}' of {Path.GetFileName(trainPath)}.");
                }

                if (horizon.Values.Length != Datasets[d].Horizon)
                {
                    throw new InvalidDataException($"{Path.GetFileName(testPath)}: series '{s.Id}' has {horizon.Values.Length} test values, expected {Datasets[d].Horizon}.");
                }

                series.Add(new Series(s.Id, d, s.Values, horizon.Values));
            }
        }

        return series;
    }

    private sealed class Series(string id, int dataset, float[] train, float[] test)
    {
        public string Id { get; } = id;

        public int Dataset { get; } = dataset;

        public float[] Train { get; } = train;

        public float[] Test { get; } = test;

        public int Cluster { get; set; }
    }

    private sealed record ClusterStream(ClusterInfo Cluster, SeriesTaskSampler Sampler, int Support, int Query, int Iterations, int Hourly, int Weekly);

    /// <summary>Tasks drawn from several samplers of the same task shape, each with a weight.</summary>
    private sealed class PooledSampler(IReadOnlyList<(ITaskSampler Sampler, double Weight)> samplers) : ITaskSampler
    {
        private readonly double _total = samplers.Sum(s => s.Weight);

        public int InputSize => SeasonalTask.InputSize;

        public void Sample(Random random, int tasks, int supportSize, int querySize, Span<float> supportX, Span<float> supportY, Span<float> queryX, Span<float> queryY)
        {
            int inputs = SeasonalTask.InputSize;
            for (int task = 0; task < tasks; task++)
            {
                double draw = random.NextDouble() * _total;
                ITaskSampler chosen = samplers[^1].Sampler;
                foreach ((ITaskSampler sampler, double weight) in samplers)
                {
                    if (draw < weight)
                    {
                        chosen = sampler;
                        break;
                    }

                    draw -= weight;
                }

                chosen.Sample(
                    random, 1, supportSize, querySize,
                    supportX.Slice(task * supportSize * inputs, supportSize * inputs),
                    supportY.Slice(task * supportSize, supportSize),
                    queryX.Slice(task * querySize * inputs, querySize * inputs),
                    queryY.Slice(task * querySize, querySize));
            }
        }
    }
}
