using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace AnomalyMeta.Service.Hosting;

/// <summary>
/// Ready to score: the newest clustering is live (training has been through it) and has a meta-learner for every
/// cluster. Degraded when a newer clustering waits for its models (the live one scores) or when some clusters have none
/// (their series fall back to the generic model); unhealthy when there is no model at all (the morning run would fail).
/// </summary>
public sealed class ModelsHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var (latest, clustering, clusters, withModel, generic) = await connection.QuerySingleAsync<(int? Latest, int? Clustering, int Clusters, int WithModel, int Generic)>(
            new CommandDefinition(
                """
                with live as (select max(cluster_version) as version from clustering where live_at is not null)
                select (select max(cluster_version) from clustering),
                       (select version from live),
                       (select count(*)::int from cluster where cluster_version = (select version from live)),
                       (select count(distinct cluster_id)::int from model where cluster_version = (select version from live)),
                       (select count(*)::int from generic_model)
                """, cancellationToken: cancellationToken));
        var data = new Dictionary<string, object>
        {
            ["clustering"] = clustering ?? 0,
            ["latest_clustering"] = latest ?? 0,
            ["clusters"] = clusters,
            ["clusters_with_model"] = withModel,
            ["generic_models"] = generic,
        };
        if (withModel == 0 && generic == 0)
        {
            return HealthCheckResult.Unhealthy("no meta-learner is trained: run `anomalymeta train`", data: data);
        }
        if (latest != clustering)
        {
            return HealthCheckResult.Degraded(
                $"clustering {latest} waits for its models; clustering {clustering?.ToString() ?? "(none)"} scores", data: data);
        }
        if (clustering is null || withModel < clusters)
        {
            return HealthCheckResult.Degraded(
                $"clustering {clustering?.ToString() ?? "(none)"} has models for {withModel} of {clusters} clusters; the others use fallback models",
                data: data);
        }
        return HealthCheckResult.Healthy($"clustering {clustering}: every cluster has its model", data);
    }
}
