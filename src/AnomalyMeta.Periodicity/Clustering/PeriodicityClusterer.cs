using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace AnomalyMeta.Periodicity;

/// <summary>
/// Groups series by period (primary, secondary), then clusters each group with ML.NET's k-means on standardised
/// features, choosing k by ML.NET's Davies-Bouldin index under a minimum cluster size. One meta-learner is trained
/// per resulting cluster.
/// </summary>
/// <remarks>
/// One <see cref="Fit"/> at a time per instance (it records <see cref="LastTrials"/>); the fitted
/// <see cref="ClusterModel"/> is immutable and safe to share. Each (group, k) trial is a task, one per core at a time
/// (k-means on a sample of at most <see cref="ClusteringOptions.MaxFitSamplePerGroup"/> per group, k = 2..6).
/// </remarks>
public sealed class PeriodicityClusterer
{
    private readonly List<KTrial> _trials = [];

    /// <summary>Every k tried by the last <see cref="Fit"/> with its Davies-Bouldin index, for reports.</summary>
    public IReadOnlyList<KTrial> LastTrials => _trials;

    /// <summary>Fits a model on <paramref name="profiles"/>; throws when there is none or a profile is malformed.</summary>
    public ClusterModel Fit(IReadOnlyList<SeriesProfile> profiles, ClusteringOptions options)
    {
        ArgumentNullException.ThrowIfNull(profiles);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (profiles.Count == 0)
        {
            throw new ArgumentException("Clustering needs at least one series profile.", nameof(profiles));
        }

        for (int i = 0; i < profiles.Count; i++)
        {
            if (profiles[i].Features is null || profiles[i].Features.Length != SeriesFeatures.Count)
            {
                throw new ArgumentException(
                    $"Profile {i} has {profiles[i].Features?.Length ?? 0} features, expected {SeriesFeatures.Count}.", nameof(profiles));
            }
        }

        _trials.Clear();
        (float[] means, float[] scales) = Standardisation(profiles);
        List<GroupDraft> groups = BuildGroups(profiles, options.MinClusterSize);
        // Every (group, k) k-means is its own task, spread over the cores, the largest groups first: k-means and its
        // Davies-Bouldin check run on one thread each, and the two largest groups held most of the work. Each task
        // draws from its own seed, derived from the group's periods and k, so the result does not depend on the order
        // in which tasks finish, nor on which other groups this fleet has.
        var prepared = new GroupFit[groups.Count];
        Parallel.For(0, groups.Count, g => prepared[g] = PrepareGroup(profiles, groups[g], means, scales, options));
        var tasks = new List<(int Group, int K)>();
        for (int g = 0; g < groups.Count; g++)
        {
            for (int k = 2; k <= prepared[g].MaxK; k++)
            {
                tasks.Add((g, k));
            }
        }

        var outcomes = new KOutcome[tasks.Count];
        // One task at a time per core, in the list's order: no worker holds a chunk of them while the other is idle.
        Parallel.ForEach(
            Partitioner.Create(Enumerable.Range(0, tasks.Count), EnumerablePartitionerOptions.NoBuffering),
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            t =>
            {
                (int g, int k) = tasks[t];
                outcomes[t] = TryK(prepared[g], k, GroupSeed(options.Seed, groups[g], k), options);
            });

        var fitted = new (float[][] Centroids, int[] Sizes, double DaviesBouldin)[groups.Count];
        for (int t = 0; t < tasks.Count; t++)
        {
            _trials.Add(outcomes[t].Trial);
        }

        Parallel.For(0, groups.Count, g =>
        {
            (float[][] centroids, double daviesBouldin) = Choose(prepared[g], outcomes.Where((_, t) => tasks[t].Group == g), options);
            var sizes = new int[centroids.Length];
            foreach (float[] row in prepared[g].Rows)
            {
                sizes[Nearest(row, centroids)]++;
            }

            fitted[g] = (centroids, sizes, daviesBouldin);
        });

        var clusters = new List<ClusterInfo>();
        var periodGroups = new List<PeriodGroup>();
        for (int g = 0; g < groups.Count; g++)
        {
            GroupDraft group = groups[g];
            (float[][] centroids, int[] sizes, double daviesBouldin) = fitted[g];
            var ids = new List<int>();
            for (int c = 0; c < centroids.Length; c++)
            {
                ids.Add(clusters.Count);
                clusters.Add(new ClusterInfo(clusters.Count, group.Primary, group.Secondary, sizes[c], centroids[c]));
            }

            periodGroups.Add(new PeriodGroup(group.Primary, group.Secondary, ids, group.MergedKeys, daviesBouldin));
        }

        return new ClusterModel(options.Version, means, scales, periodGroups, clusters);
    }

    /// <summary>The seed of one group's sample (k = 0) or of its k-means for k: the run's seed mixed with the periods and k.</summary>
    private static int GroupSeed(int seed, GroupDraft group, int k) =>
        unchecked(seed ^ (group.Primary * 73856093) ^ (group.Secondary * 19349663) ^ (k * 83492791));

    /// <summary>Mean and standard deviation per feature (1 where a feature is constant, so it scales to 0).</summary>
    private static (float[] Means, float[] Scales) Standardisation(IReadOnlyList<SeriesProfile> profiles)
    {
        int count = SeriesFeatures.Count;
        var sum = new double[count];
        var sumSquares = new double[count];
        foreach (SeriesProfile profile in profiles)
        {
            for (int f = 0; f < count; f++)
            {
                double value = float.IsFinite(profile.Features[f]) ? profile.Features[f] : 0;
                sum[f] += value;
                sumSquares[f] += value * value;
            }
        }

        var means = new float[count];
        var scales = new float[count];
        for (int f = 0; f < count; f++)
        {
            double mean = sum[f] / profiles.Count;
            double variance = Math.Max((sumSquares[f] / profiles.Count) - (mean * mean), 0);
            means[f] = (float)mean;
            scales[f] = variance > 1e-12 ? (float)Math.Sqrt(variance) : 1f;
        }

        return (means, scales);
    }

    /// <summary>
    /// One group per (primary, secondary) key; keys rarer than the minimum cluster size are merged into the kept
    /// group with the nearest periods. Aperiodic and too-short series always form their own group (key 0/0).
    /// </summary>
    private static List<GroupDraft> BuildGroups(IReadOnlyList<SeriesProfile> profiles, int minClusterSize)
    {
        var byKey = new Dictionary<(int, int), List<int>>();
        for (int i = 0; i < profiles.Count; i++)
        {
            var key = profiles[i].GroupKey;
            if (!byKey.TryGetValue(key, out List<int>? members))
            {
                members = [];
                byKey[key] = members;
            }

            members.Add(i);
        }

        var ordered = byKey.ToList();
        // Largest first, ties by key, so that the result does not depend on dictionary order.
        ordered.Sort((a, b) => b.Value.Count != a.Value.Count ? b.Value.Count.CompareTo(a.Value.Count) : a.Key.CompareTo(b.Key));
        var kept = new List<GroupDraft>();
        foreach (var (key, members) in ordered)
        {
            bool periodic = key.Item1 > 0;
            bool keptPeriodicExists = kept.Exists(g => g.Primary > 0);
            if (!periodic || members.Count >= minClusterSize || !keptPeriodicExists)
            {
                kept.Add(new GroupDraft(key.Item1, key.Item2, new List<int>(members), []));
            }
        }

        foreach (var (key, members) in ordered)
        {
            if (kept.Exists(g => g.Primary == key.Item1 && g.Secondary == key.Item2))
            {
                continue;
            }

            GroupDraft target = kept[0];
            double bestDistance = double.PositiveInfinity;
            foreach (GroupDraft candidate in kept)
            {
                if (candidate.Primary == 0)
                {
                    continue;
                }

                double distance = ClusterModel.PeriodDistance(key.Item1, key.Item2, candidate.Primary, candidate.Secondary);
                if (distance < bestDistance)
                {
                    bestDistance = distance;
                    target = candidate;
                }
            }

            target.Members.AddRange(members);
            target.MergedKeys.Add(FormattableString.Invariant($"{key.Item1}/{key.Item2}"));
        }

        return kept;
    }

    private static float[][] Scale(IReadOnlyList<SeriesProfile> profiles, List<int> members, float[] means, float[] scales)
    {
        var rows = new float[members.Count][];
        for (int i = 0; i < members.Count; i++)
        {
            float[] features = profiles[members[i]].Features;
            var row = new float[SeriesFeatures.Count];
            for (int f = 0; f < row.Length; f++)
            {
                float value = float.IsFinite(features[f]) ? features[f] : means[f];
                row[f] = (value - means[f]) / scales[f];
            }

            rows[i] = row;
        }

        return rows;
    }

    /// <summary>
    /// A group's standardised rows, its mean (the one-cluster answer), the largest k its size allows, and the sample
    /// k-means runs on, loaded as an ML.NET data view.
    /// </summary>
    private static GroupFit PrepareGroup(
        IReadOnlyList<SeriesProfile> profiles, GroupDraft group, float[] means, float[] scales, ClusteringOptions options)
    {
        float[][] rows = Scale(profiles, group.Members, means, scales);
        int maxK = Math.Min(options.MaxClustersPerGroup, rows.Length / options.MinClusterSize);
        float[][] sample = maxK < 2 ? rows : Sample(rows, options.MaxFitSamplePerGroup, new Random(GroupSeed(options.Seed, group, 0)));
        var schema = SchemaDefinition.Create(typeof(FeatureRow));
        schema[nameof(FeatureRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, SeriesFeatures.Count);
        var featureRows = new FeatureRow[sample.Length];
        for (int i = 0; i < sample.Length; i++)
        {
            featureRows[i] = new FeatureRow { Features = sample[i] };
        }

        return new GroupFit(group, rows, Mean(rows), maxK, sample, featureRows, schema);
    }

    /// <summary>
    /// ML.NET k-means with k clusters on the group's sample: the trial, with its Davies-Bouldin index when its smallest
    /// cluster (scaled to the whole group) reaches the minimum size.
    /// </summary>
    private static KOutcome TryK(GroupFit fit, int k, int seed, ClusteringOptions options)
    {
        var mlContext = new MLContext(seed);
        IDataView data = mlContext.Data.LoadFromEnumerable(fit.FeatureRows, fit.Schema);
        var trainer = mlContext.Clustering.Trainers.KMeans(new KMeansTrainer.Options
        {
            FeatureColumnName = nameof(FeatureRow.Features),
            NumberOfClusters = k,
            // One thread keeps the result reproducible for a given seed; the tasks run side by side instead.
            NumberOfThreads = 1,
            InitializationAlgorithm = KMeansTrainer.InitializationAlgorithm.KMeansPlusPlus,
        });
        var model = trainer.Fit(data);
        VBuffer<float>[] vectors = [];
        model.Model.GetClusterCentroids(ref vectors, out int found);
        var centroids = new float[found][];
        for (int c = 0; c < found; c++)
        {
            centroids[c] = vectors[c].DenseValues().ToArray();
        }

        var sizes = new int[found];
        foreach (float[] row in fit.Sample)
        {
            sizes[Nearest(row, centroids)]++;
        }

        int smallest = (int)(sizes.Min() * ((double)fit.Rows.Length / fit.Sample.Length));
        if (smallest < options.MinClusterSize)
        {
            return new KOutcome(new KTrial(fit.Group.Primary, fit.Group.Secondary, k, double.NaN, smallest), centroids);
        }

        ClusteringMetrics metrics = mlContext.Clustering.Evaluate(
            model.Transform(data), scoreColumnName: "Score", featureColumnName: nameof(FeatureRow.Features));
        return new KOutcome(new KTrial(fit.Group.Primary, fit.Group.Secondary, k, metrics.DaviesBouldinIndex, smallest), centroids);
    }

    /// <summary>
    /// Of a group's trials (k ascending), the k with the lowest Davies-Bouldin index among those whose clusters are all
    /// large enough; one cluster (the mean) when no k qualifies or the best index is above
    /// <see cref="ClusteringOptions.MaxDaviesBouldin"/>.
    /// </summary>
    private static (float[][] Centroids, double DaviesBouldin) Choose(GroupFit fit, IEnumerable<KOutcome> outcomes, ClusteringOptions options)
    {
        float[][]? bestCentroids = null;
        double bestIndex = double.PositiveInfinity;
        foreach (KOutcome outcome in outcomes)
        {
            if (!double.IsNaN(outcome.Trial.DaviesBouldin) && outcome.Trial.DaviesBouldin < bestIndex)
            {
                bestIndex = outcome.Trial.DaviesBouldin;
                bestCentroids = outcome.Centroids;
            }
        }

        return bestCentroids is null || bestIndex > options.MaxDaviesBouldin ? ([fit.Mean], double.NaN) : (bestCentroids, bestIndex);
    }

    private static float[][] Sample(float[][] rows, int maximum, Random random)
    {
        if (rows.Length <= maximum)
        {
            return rows;
        }

        // Partial Fisher-Yates on a copy of the indices: a uniform sample without replacement.
        var indices = new int[rows.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            indices[i] = i;
        }

        var sample = new float[maximum][];
        for (int i = 0; i < maximum; i++)
        {
            int j = random.Next(i, indices.Length);
            (indices[i], indices[j]) = (indices[j], indices[i]);
            sample[i] = rows[indices[i]];
        }

        return sample;
    }

    private static float[] Mean(float[][] rows)
    {
        var mean = new float[SeriesFeatures.Count];
        foreach (float[] row in rows)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(mean, row, mean);
        }

        if (rows.Length > 0)
        {
            System.Numerics.Tensors.TensorPrimitives.Divide(mean, rows.Length, mean);
        }

        return mean;
    }

    private static int Nearest(float[] row, float[][] centroids)
    {
        int best = 0;
        float bestDistance = float.PositiveInfinity;
        for (int c = 0; c < centroids.Length; c++)
        {
            float distance = System.Numerics.Tensors.TensorPrimitives.Distance(row, centroids[c]);
            if (distance < bestDistance)
            {
                bestDistance = distance;
                best = c;
            }
        }

        return best;
    }

    /// <summary>One k tried for one period group.</summary>
    /// <param name="Primary">Primary period of the group.</param>
    /// <param name="Secondary">Secondary period of the group.</param>
    /// <param name="K">Number of clusters tried.</param>
    /// <param name="DaviesBouldin">ML.NET's Davies-Bouldin index; NaN when a cluster was below the minimum size.</param>
    /// <param name="SmallestCluster">Size of the smallest cluster (estimated on the whole group).</param>
    public readonly record struct KTrial(int Primary, int Secondary, int K, double DaviesBouldin, int SmallestCluster);

    /// <summary>A period group being built: its key, its members (profile indices) and the keys merged into it.</summary>
    private sealed record GroupDraft(int Primary, int Secondary, List<int> Members, List<string> MergedKeys);

    private sealed record GroupFit(
        GroupDraft Group, float[][] Rows, float[] Mean, int MaxK, float[][] Sample, FeatureRow[] FeatureRows, SchemaDefinition Schema);

    private readonly record struct KOutcome(KTrial Trial, float[][] Centroids);

    /// <summary>ML.NET row; public members because ML.NET binds columns by reflection.</summary>
    internal sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];
    }
}
