using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AnomalyMeta.Periodicity;

/// <summary>One cluster: its id, the periods of its group, its size at fit time and its centroid.</summary>
/// <param name="Id">Cluster id, unique within the model (0..n-1).</param>
/// <param name="PrimaryPeriod">Primary period of the cluster's period group (0 for the aperiodic group).</param>
/// <param name="SecondaryPeriod">Secondary period of the group, 0 if none.</param>
/// <param name="Size">Series assigned to it when the model was fitted.</param>
/// <param name="Centroid">Centroid in standardised feature space (see <see cref="ClusterModel.FeatureMeans"/>).</param>
public sealed record ClusterInfo(int Id, int PrimaryPeriod, int SecondaryPeriod, int Size, float[] Centroid)
{
    /// <summary>Season for forecasting: secondary period if any, else primary, else 24 (the scoring layer's default).</summary>
    public int SeasonLength => SecondaryPeriod > 0 ? SecondaryPeriod : PrimaryPeriod > 0 ? PrimaryPeriod : 24;
}

/// <summary>A period group: series sharing (primary, secondary) periods, clustered by k-means on their features.</summary>
/// <param name="PrimaryPeriod">Primary period of the group (0: aperiodic and too-short series).</param>
/// <param name="SecondaryPeriod">Secondary period, 0 if none.</param>
/// <param name="ClusterIds">Clusters of this group.</param>
/// <param name="MergedKeys">Other (primary, secondary) pairs folded into this group because they were too rare, as "p/s".</param>
/// <param name="DaviesBouldin">Davies-Bouldin index of the chosen k (ML.NET), NaN when the group is one cluster.</param>
public sealed record PeriodGroup(
    int PrimaryPeriod, int SecondaryPeriod, IReadOnlyList<int> ClusterIds, IReadOnlyList<string> MergedKeys, double DaviesBouldin);

/// <summary>
/// The fitted clustering: feature scaling, period groups and clusters, with a version. Assigns new series to the
/// existing clusters without re-clustering: the group by period (an unseen period pair goes to the group with the
/// nearest season length), then the nearest centroid. Immutable and thread-safe.
/// </summary>
public sealed class ClusterModel
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly Dictionary<(int, int), int> _groupByKey = [];
    private readonly int _aperiodicGroup = -1;

    /// <summary>Creates a model from its parts (as fitted or as read back from JSON).</summary>
    public ClusterModel(
        int version, float[] featureMeans, float[] featureScales, IReadOnlyList<PeriodGroup> groups, IReadOnlyList<ClusterInfo> clusters)
    {
        ArgumentNullException.ThrowIfNull(featureMeans);
        ArgumentNullException.ThrowIfNull(featureScales);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(clusters);
        if (featureMeans.Length != SeriesFeatures.Count || featureScales.Length != SeriesFeatures.Count)
        {
            throw new InvalidDataException(
                $"Cluster model version {version}: {featureMeans.Length} feature means and {featureScales.Length} scales, expected {SeriesFeatures.Count}.");
        }

        for (int i = 0; i < clusters.Count; i++)
        {
            if (clusters[i].Id != i || clusters[i].Centroid.Length != SeriesFeatures.Count)
            {
                throw new InvalidDataException($"Cluster model version {version}: cluster {i} has id {clusters[i].Id} or a centroid of the wrong length.");
            }
        }

        Version = version;
        FeatureMeans = featureMeans;
        FeatureScales = featureScales;
        Groups = groups;
        Clusters = clusters;
        for (int g = 0; g < groups.Count; g++)
        {
            PeriodGroup group = groups[g];
            if (group.ClusterIds.Count == 0)
            {
                throw new InvalidDataException($"Cluster model version {version}: period group {group.PrimaryPeriod}/{group.SecondaryPeriod} has no cluster.");
            }

            _groupByKey[(group.PrimaryPeriod, group.SecondaryPeriod)] = g;
            foreach (string merged in group.MergedKeys)
            {
                string[] parts = merged.Split('/');
                if (parts.Length == 2 && int.TryParse(parts[0], out int p) && int.TryParse(parts[1], out int s))
                {
                    _groupByKey.TryAdd((p, s), g);
                }
            }

            if (group.PrimaryPeriod == 0)
            {
                _aperiodicGroup = g;
            }
        }
    }

    /// <summary>Clustering version (set by the caller in <see cref="ClusteringOptions.Version"/>).</summary>
    public int Version { get; }

    /// <summary>Feature means used for standardisation (z = (x - mean) / scale).</summary>
    public IReadOnlyList<float> FeatureMeans { get; }

    /// <summary>Feature standard deviations used for standardisation (1 for constant features).</summary>
    public IReadOnlyList<float> FeatureScales { get; }

    /// <summary>Period groups; each owns one or more clusters.</summary>
    public IReadOnlyList<PeriodGroup> Groups { get; }

    /// <summary>All clusters, indexed by id.</summary>
    public IReadOnlyList<ClusterInfo> Clusters { get; }

    /// <summary>Cluster id of a series: its period group, then the nearest centroid in standardised feature space.</summary>
    public int Assign(in SeriesProfile profile)
    {
        float[] features = profile.Features ?? throw new ArgumentException("The profile has no features.", nameof(profile));
        if (features.Length != SeriesFeatures.Count)
        {
            throw new ArgumentException($"The profile has {features.Length} features, expected {SeriesFeatures.Count}.", nameof(profile));
        }

        PeriodGroup group = Groups[GroupOf(profile.GroupKey)];
        if (group.ClusterIds.Count == 1)
        {
            return group.ClusterIds[0];
        }

        Span<float> scaled = stackalloc float[SeriesFeatures.Count];
        Standardise(features, scaled);
        int best = group.ClusterIds[0];
        float bestDistance = float.PositiveInfinity;
        foreach (int id in group.ClusterIds)
        {
            float distance = TensorPrimitives.Distance(scaled, Clusters[id].Centroid);
            if (distance < bestDistance)
            {
                bestDistance = distance;
                best = id;
            }
        }

        return best;
    }

    /// <summary>Assigns a batch; <paramref name="clusterIds"/> must be as long as <paramref name="profiles"/>.</summary>
    public void Assign(IReadOnlyList<SeriesProfile> profiles, Span<int> clusterIds)
    {
        ArgumentNullException.ThrowIfNull(profiles);
        if (clusterIds.Length < profiles.Count)
        {
            throw new ArgumentException($"clusterIds has {clusterIds.Length} slots for {profiles.Count} profiles.", nameof(clusterIds));
        }

        for (int i = 0; i < profiles.Count; i++)
        {
            clusterIds[i] = Assign(profiles[i]);
        }
    }

    /// <summary>Writes z = (x - mean) / scale.</summary>
    public void Standardise(ReadOnlySpan<float> features, Span<float> scaled)
    {
        for (int f = 0; f < SeriesFeatures.Count; f++)
        {
            float value = features[f];
            scaled[f] = float.IsFinite(value) ? (value - FeatureMeans[f]) / FeatureScales[f] : 0f;
        }
    }

    /// <summary>Index in <see cref="Groups"/> for a period key; unseen keys go to the group with the nearest season.</summary>
    public int GroupOf((int Primary, int Secondary) key)
    {
        if (_groupByKey.TryGetValue(key, out int group))
        {
            return group;
        }

        if (key.Primary <= 0)
        {
            return _aperiodicGroup >= 0 ? _aperiodicGroup : NearestGroup(24, 0);
        }

        return NearestGroup(key.Primary, key.Secondary);
    }

    private int NearestGroup(int primary, int secondary)
    {
        int best = 0;
        double bestDistance = double.PositiveInfinity;
        for (int g = 0; g < Groups.Count; g++)
        {
            PeriodGroup group = Groups[g];
            if (group.PrimaryPeriod == 0 && Groups.Count > 1)
            {
                continue;
            }

            double distance = PeriodDistance(primary, secondary, group.PrimaryPeriod, group.SecondaryPeriod);
            if (distance < bestDistance)
            {
                bestDistance = distance;
                best = g;
            }
        }

        return best;
    }

    /// <summary>Distance between period pairs: log ratio of season lengths plus log ratio of primary periods.</summary>
    internal static double PeriodDistance(int primaryA, int secondaryA, int primaryB, int secondaryB)
    {
        double seasonA = secondaryA > 0 ? secondaryA : primaryA;
        double seasonB = secondaryB > 0 ? secondaryB : primaryB;
        return Math.Abs(Math.Log(Math.Max(seasonA, 1) / Math.Max(seasonB, 1)))
            + Math.Abs(Math.Log(Math.Max(primaryA, 1) / (double)Math.Max(primaryB, 1)));
    }

    /// <summary>JSON with snake_case keys: version, feature_means, feature_scales, groups, clusters.</summary>
    public string ToJson() => JsonSerializer.Serialize(
        new ModelDocument(Version, [.. FeatureMeans], [.. FeatureScales], [.. SeriesFeatures.Names], [.. Groups], [.. Clusters]),
        JsonOptions);

    /// <summary>Reads a model written by <see cref="ToJson"/>; a malformed document throws <see cref="InvalidDataException"/>.</summary>
    public static ClusterModel FromJson(string json)
    {
        ArgumentException.ThrowIfNullOrEmpty(json);
        ModelDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<ModelDocument>(json, JsonOptions);
        }
        catch (JsonException exception)
        {
            throw new InvalidDataException($"Cluster model JSON, line {exception.LineNumber}, position {exception.BytePositionInLine}: {exception.Message}", exception);
        }

        if (document is null || document.FeatureMeans is null || document.FeatureScales is null || document.Groups is null || document.Clusters is null)
        {
            throw new InvalidDataException("Cluster model JSON: version, feature_means, feature_scales, groups and clusters are all required.");
        }

        return new ClusterModel(document.Version, document.FeatureMeans, document.FeatureScales, document.Groups, document.Clusters);
    }

    private sealed record ModelDocument(
        int Version, float[] FeatureMeans, float[] FeatureScales, string[]? FeatureNames, PeriodGroup[] Groups, ClusterInfo[] Clusters);
}
