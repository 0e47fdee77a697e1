namespace AnomalyMeta.Storage.Records;

/// <summary>One cluster of a clustering: its periods, size and centroid in feature space.</summary>
public sealed record ClusterSummary(int ClusterId, int? PrimaryPeriod, int? SecondaryPeriod, int SeriesCount, float[] Centroid);

/// <summary>
/// One version of the clustering step's output. <paramref name="MovedCount"/> is how many series changed cluster
/// against the previous version (null for the first, or when unknown). <paramref name="LiveAt"/> is when training
/// had been through all its clusters and it started scoring (null while it waits for its models).
/// </summary>
public sealed record StoredClustering(
    int Version,
    string Method,
    string ParametersJson,
    int SeriesCount,
    int? MovedCount,
    IReadOnlyList<ClusterSummary> Clusters,
    DateTimeOffset CreatedAt = default,
    DateTimeOffset? LiveAt = null);

/// <summary>A meta-learner checkpoint of one cluster, one version of its lineage.</summary>
public sealed record StoredModel(
    int ModelId,
    int ClusterVersion,
    int ClusterId,
    int ModelVersion,
    string Algorithm,
    string ConfigurationJson,
    string MetricsJson,
    byte[] Checkpoint,
    DateTimeOffset CreatedAt);

/// <summary>A generic meta-learner of one sampling step: the fallback of series whose cluster has no model.</summary>
public sealed record StoredGenericModel(
    int ModelId,
    int StepSeconds,
    int ModelVersion,
    string Algorithm,
    string ConfigurationJson,
    string MetricsJson,
    byte[] Checkpoint,
    DateTimeOffset CreatedAt);
