using System.Globalization;
using System.Text.Json;
using AnomalyMeta.Storage.Records;
using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace AnomalyMeta.Storage;

/// <summary>A scope that cannot be rescored: unknown series, an unknown cluster, nothing selected. The message names the culprit.</summary>
public sealed class ScopeException(string message) : InvalidOperationException(message);

/// <summary>A scope's series (ascending ids) and the clustering its cluster was taken from (null when it names no cluster).</summary>
public sealed record ResolvedScope(RunScope Scope, int[] SeriesIds, int? ClusteringVersion);

/// <summary>
/// Turns a <see cref="RunScope"/> into the series it selects. Checked when a rescore is asked for (so a bad scope is
/// refused before anything is queued) and again when the run starts (the fleet may have changed in between).
/// </summary>
public sealed class RunScopeResolver(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// The series of <paramref name="scope"/>. Throws <see cref="ScopeException"/> when the scope is malformed, lists a
    /// series that is not registered (naming every such key), names a cluster the live clustering lacks, or selects
    /// no series at all: a rescore of nothing is a mistake, not a quiet success.
    /// </summary>
    public async Task<ResolvedScope> ResolveAsync(RunScope scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        if (scope.Problem() is string problem)
        {
            throw new ScopeException(problem);
        }
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (scope.Series is not null)
        {
            var unknown = (await connection.QueryAsync<string>(new CommandDefinition(
                "select k from unnest(@keys) with ordinality as t(k, n) where not exists (select 1 from series s where s.series_key = t.k) order by n",
                new { keys = scope.Series.ToArray() }, cancellationToken: cancellationToken))).AsList();
            if (unknown.Count > 0)
            {
                throw new ScopeException($"No such series: {string.Join(", ", unknown.Select(k => $"'{k}'"))} "
                    + $"({unknown.Count} of the {scope.Series.Count} keys of the scope are not registered).");
            }
        }
        int? version = null;
        var conditions = new List<string>();
        var command = new NpgsqlCommand { Connection = connection };
        await using (command)
        {
            if (scope.Cluster is int cluster)
            {
                // The clustering that scores (see MorningScoring): the newest one training has been through.
                version = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
                    "select cluster_version from clustering where live_at is not null order by cluster_version desc limit 1",
                    cancellationToken: cancellationToken))
                    ?? throw new ScopeException($"No clustering is live yet (run `anomalymeta cluster` and `anomalymeta train`): cannot rescore cluster {cluster}.");
                var clusters = (await connection.QueryAsync<int>(new CommandDefinition(
                    "select cluster_id from cluster where cluster_version = @version order by cluster_id",
                    new { version }, cancellationToken: cancellationToken))).AsList();
                if (!clusters.Contains(cluster))
                {
                    throw new ScopeException($"The live clustering {version} has no cluster {cluster} (its clusters: {string.Join(", ", clusters)}).");
                }
                conditions.Add("exists (select 1 from series_assignment a where a.series_id = s.series_id and a.cluster_version = @version and a.cluster_id = @cluster)");
                command.Parameters.Add(new NpgsqlParameter<int>("version", version.Value));
                command.Parameters.Add(new NpgsqlParameter<int>("cluster", cluster));
            }
            if (scope.Series is not null)
            {
                conditions.Add("s.series_key = any(@keys)");
                command.Parameters.Add(new NpgsqlParameter<string[]>("keys", [.. scope.Series]));
            }
            if (scope.Tags is not null)
            {
                // Containment, so the GIN index series_tags (jsonb_path_ops) answers it.
                conditions.Add("s.tags @> @tags");
                command.Parameters.Add(new NpgsqlParameter("tags", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(scope.Tags) });
            }
            command.CommandText = "select s.series_id from series s"
                + (conditions.Count > 0 ? " where " + string.Join(" and ", conditions) : "")
                + " order by s.series_id";
            var ids = new List<int>();
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    ids.Add(reader.GetInt32(0));
                }
            }
            if (ids.Count == 0)
            {
                throw new ScopeException($"The scope ({scope}) selects no series{(version is int v ? string.Create(CultureInfo.InvariantCulture, $" of clustering {v}") : "")}.");
            }
            return new ResolvedScope(scope, [.. ids], version);
        }
    }
}
