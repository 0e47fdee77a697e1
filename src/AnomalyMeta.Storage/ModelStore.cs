using AnomalyMeta.Storage.Records;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>
/// Meta-learner checkpoints: one lineage of versions per (clustering version, cluster). Saving never overwrites;
/// loading takes the newest version of each cluster.
/// </summary>
public sealed class ModelStore
{
    private readonly NpgsqlDataSource _dataSource;

    public ModelStore(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
    }

    /// <summary>
    /// Saves a checkpoint as the next model_version of its cluster's lineage (1 for the first) and returns its
    /// model_id, the identity that names this checkpoint everywhere. The cluster must exist in the clustering version.
    /// </summary>
    public async Task<int> SaveAsync(
        int clusterVersion,
        int clusterId,
        string algorithm,
        string configurationJson,
        string? metricsJson,
        byte[] checkpoint,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(algorithm);
        ArgumentException.ThrowIfNullOrWhiteSpace(configurationJson);
        ArgumentNullException.ThrowIfNull(checkpoint);

        return await _dataSource.InTransactionAsync(
            async (connection, transaction) =>
            {
                // Locking the cluster row serialises savers of one lineage, so max + 1 cannot be taken twice,
                // and says clearly when the cluster does not exist.
                var parameters = new { clusterVersion, clusterId };
                var exists = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
                    "select 1 from cluster where cluster_version = @clusterVersion and cluster_id = @clusterId for update",
                    parameters, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
                if (exists is null)
                {
                    throw new InvalidOperationException(
                        $"Cluster {clusterId} of clustering version {clusterVersion} does not exist: save the clustering before its models.");
                }

                var modelId = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
                    """
                    insert into model (cluster_version, cluster_id, model_version, algorithm, configuration, metrics, checkpoint)
                    select @clusterVersion, @clusterId, coalesce(max(model_version), 0) + 1, @algorithm,
                           cast(@configurationJson as jsonb), cast(@metricsJson as jsonb), @checkpoint
                    from model
                    where cluster_version = @clusterVersion and cluster_id = @clusterId
                    returning model_id
                    """,
                    new
                    {
                        clusterVersion,
                        clusterId,
                        algorithm,
                        configurationJson,
                        metricsJson = string.IsNullOrWhiteSpace(metricsJson) ? "{}" : metricsJson,
                        checkpoint,
                    },
                    transaction,
                    cancellationToken: cancellationToken)).ConfigureAwait(false);

                return modelId;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Saves a generic meta-learner of a sampling step (trained on generated series, the fallback of series whose
    /// cluster has no model) as the next model_version of that step's lineage, and returns its model_id.
    /// </summary>
    public async Task<int> SaveGenericAsync(
        int stepSeconds,
        string algorithm,
        string configurationJson,
        string? metricsJson,
        byte[] checkpoint,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(algorithm);
        ArgumentException.ThrowIfNullOrWhiteSpace(configurationJson);
        ArgumentNullException.ThrowIfNull(checkpoint);
        return await _dataSource.InTransactionAsync(
            async (connection, transaction) =>
            {
                // Serialises savers of every lineage; generic models are saved once per step, rarely.
                await connection.ExecuteAsync(new CommandDefinition(
                    "lock table generic_model in share row exclusive mode", transaction: transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
                return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
                    """
                    insert into generic_model (step_seconds, model_version, algorithm, configuration, metrics, checkpoint)
                    select @stepSeconds, coalesce(max(model_version), 0) + 1, @algorithm,
                           cast(@configurationJson as jsonb), cast(@metricsJson as jsonb), @checkpoint
                    from generic_model
                    where step_seconds = @stepSeconds
                    returning model_id
                    """,
                    new
                    {
                        stepSeconds,
                        algorithm,
                        configurationJson,
                        metricsJson = string.IsNullOrWhiteSpace(metricsJson) ? "{}" : metricsJson,
                        checkpoint,
                    },
                    transaction,
                    cancellationToken: cancellationToken)).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The newest generic model of every sampling step that has one.</summary>
    public async Task<IReadOnlyList<StoredGenericModel>> LoadGenericAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var rows = await connection.QueryAsync<GenericRow>(new CommandDefinition(
                """
                select distinct on (step_seconds)
                       model_id as ModelId, step_seconds as StepSeconds, model_version as ModelVersion,
                       algorithm as Algorithm, configuration::text as ConfigurationJson, metrics::text as MetricsJson,
                       checkpoint as Checkpoint, created_at as CreatedAt
                from generic_model
                order by step_seconds, model_version desc
                """,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            return rows
                .Select(r => new StoredGenericModel(r.ModelId, r.StepSeconds, r.ModelVersion, r.Algorithm, r.ConfigurationJson,
                    r.MetricsJson, r.Checkpoint, new DateTimeOffset(DateTime.SpecifyKind(r.CreatedAt, DateTimeKind.Utc))))
                .ToList();
        }
    }

    /// <summary>
    /// The model that scores each cluster of <paramref name="clusterVersion"/> that has one, by cluster_id: the pinned
    /// one where an operator pinned a model, else the newest model_version.
    /// </summary>
    public async Task<IReadOnlyList<StoredModel>> LoadLatestAsync(int clusterVersion, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var rows = await connection.QueryAsync<ModelRow>(new CommandDefinition(
                """
                select distinct on (m.cluster_id)
                       m.model_id as ModelId, m.cluster_version as ClusterVersion, m.cluster_id as ClusterId,
                       m.model_version as ModelVersion, m.algorithm as Algorithm, m.configuration::text as ConfigurationJson,
                       m.metrics::text as MetricsJson, m.checkpoint as Checkpoint, m.created_at as CreatedAt
                from model m
                left join model_pin p on p.cluster_version = m.cluster_version and p.cluster_id = m.cluster_id
                where m.cluster_version = @clusterVersion and (p.model_id is null or p.model_id = m.model_id)
                order by m.cluster_id, m.model_version desc
                """,
                new { clusterVersion },
                cancellationToken: cancellationToken)).ConfigureAwait(false);

            return rows
                .Select(r => new StoredModel(
                    r.ModelId,
                    r.ClusterVersion,
                    r.ClusterId,
                    r.ModelVersion,
                    r.Algorithm,
                    r.ConfigurationJson,
                    r.MetricsJson,
                    r.Checkpoint,
                    new DateTimeOffset(DateTime.SpecifyKind(r.CreatedAt, DateTimeKind.Utc))))
                .ToList();
        }
    }

    private sealed class ModelRow
    {
        public int ModelId { get; init; }

        public int ClusterVersion { get; init; }

        public int ClusterId { get; init; }

        public int ModelVersion { get; init; }

        public string Algorithm { get; init; } = "";

        public string ConfigurationJson { get; init; } = "{}";

        public string MetricsJson { get; init; } = "{}";

        public byte[] Checkpoint { get; init; } = [];

        public DateTime CreatedAt { get; init; }
    }

    private sealed class GenericRow
    {
        public int ModelId { get; init; }

        public int StepSeconds { get; init; }

        public int ModelVersion { get; init; }

        public string Algorithm { get; init; } = "";

        public string ConfigurationJson { get; init; } = "{}";

        public string MetricsJson { get; init; } = "{}";

        public byte[] Checkpoint { get; init; } = [];

        public DateTime CreatedAt { get; init; }
    }
}
