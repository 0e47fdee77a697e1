using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>One cluster model as operators see it: what it was trained on, how well, and whether it scores.</summary>
public sealed record ModelLine(
    int ModelId,
    int ClusteringVersion,
    int ClusterId,
    int ModelVersion,
    string Algorithm,
    DateTime TrainedAt,
    int? TrainingSeries,
    int? SeasonLength,
    double? MetaLoss,
    bool ClusteringLive,
    bool Scoring,
    string? PinnedBy,
    string? PinReason);

/// <summary>
/// The lifecycle of cluster models: the list (which clustering is live, which model scores each cluster), and an
/// operator's pins and rollbacks. A pin makes scoring use that model for its cluster instead of the newest; a
/// rollback pins the version just before the one scoring now.
/// </summary>
public sealed class ModelLifecycle(NpgsqlDataSource dataSource)
{
    /// <summary>Every model of the live clustering and of the newer ones (all clusterings with <paramref name="all"/>).</summary>
    public async Task<IReadOnlyList<ModelLine>> ListAsync(bool all, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<ModelLine>(new CommandDefinition(
            """
            with live as (select max(cluster_version) as version from clustering where live_at is not null),
                 scoring as (
                     select distinct on (m.cluster_version, m.cluster_id) m.model_id
                     from model m
                     left join model_pin p on p.cluster_version = m.cluster_version and p.cluster_id = m.cluster_id
                     where p.model_id is null or p.model_id = m.model_id
                     order by m.cluster_version, m.cluster_id, m.model_version desc)
            select m.model_id as ModelId, m.cluster_version as ClusteringVersion, m.cluster_id as ClusterId, m.model_version as ModelVersion,
                   m.algorithm as Algorithm, m.created_at as TrainedAt,
                   (m.configuration->>'trainingSeries')::int as TrainingSeries, (m.configuration->>'seasonLength')::int as SeasonLength,
                   (m.metrics->>'final_meta_loss')::float8 as MetaLoss,
                   m.cluster_version = (select version from live) as ClusteringLive,
                   m.cluster_version = (select version from live) and m.model_id in (select model_id from scoring) as Scoring,
                   p.pinned_by as PinnedBy, p.reason as PinReason
            from model m
            left join model_pin p on p.model_id = m.model_id
            where @all or m.cluster_version >= coalesce((select version from live), 0)
            order by m.cluster_version desc, m.cluster_id, m.model_version desc
            """,
            new { all }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>Pins <paramref name="modelId"/> for its cluster (replacing an earlier pin). Returns the pinned model's line.</summary>
    public async Task<ModelLine> PinAsync(int modelId, string pinnedBy, string reason, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pinnedBy);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        int pinned = await connection.ExecuteAsync(new CommandDefinition(
            """
            insert into model_pin (cluster_version, cluster_id, model_id, pinned_by, reason)
            select cluster_version, cluster_id, model_id, @pinnedBy, @reason from model where model_id = @modelId
            on conflict (cluster_version, cluster_id) do update
                set model_id = excluded.model_id, pinned_by = excluded.pinned_by, pinned_at = now(), reason = excluded.reason
            """,
            new { modelId, pinnedBy, reason }, cancellationToken: cancellationToken));
        if (pinned == 0)
        {
            throw new KeyNotFoundException($"There is no cluster model {modelId}.");
        }
        return (await ListAsync(all: true, cancellationToken)).Single(m => m.ModelId == modelId);
    }

    /// <summary>
    /// Pins the version before the one scoring <paramref name="clusterId"/> of <paramref name="clusteringVersion"/>.
    /// Throws when the cluster has no earlier version.
    /// </summary>
    public async Task<ModelLine> RollBackAsync(int clusteringVersion, int clusterId, string pinnedBy, string reason, CancellationToken cancellationToken)
    {
        var models = (await ListAsync(all: true, cancellationToken)).Where(m => m.ClusteringVersion == clusteringVersion && m.ClusterId == clusterId).ToList();
        var current = models.FirstOrDefault(m => m.PinnedBy is not null) ?? models.FirstOrDefault()
            ?? throw new KeyNotFoundException($"Cluster {clusterId} of clustering {clusteringVersion} has no model.");
        var previous = models.Where(m => m.ModelVersion < current.ModelVersion).MaxBy(m => m.ModelVersion)
            ?? throw new InvalidOperationException(
                $"Cluster {clusterId} of clustering {clusteringVersion}: model {current.ModelId} (version {current.ModelVersion}) has no earlier version to roll back to.");
        return await PinAsync(previous.ModelId, pinnedBy, reason, cancellationToken);
    }

    /// <summary>Removes a cluster's pin: its newest model scores again. False when there was none.</summary>
    public async Task<bool> UnpinAsync(int clusteringVersion, int clusterId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "delete from model_pin where cluster_version = @clusteringVersion and cluster_id = @clusterId",
            new { clusteringVersion, clusterId }, cancellationToken: cancellationToken)) == 1;
    }
}
