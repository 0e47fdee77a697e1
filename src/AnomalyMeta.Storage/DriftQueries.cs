using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>One cluster's out-of-sample error on one scored day, with the model that scored it.</summary>
public sealed record ClusterDayError(int ClusterId, int ModelId, DateOnly AsOf, double Error, int Series);

/// <summary>
/// The adapted models' out-of-sample error per cluster and day, for the drift check: over the series each cluster's
/// scoring model scored itself (status scored, no fallback detail), in runs that started after that model was trained
/// and used that clustering, the mean point score of the day. A point's score is a monotone function of its residual
/// over the series' own residual scale carried from its previous days (0.5 at the threshold), so the mean score is an
/// out-of-sample error on one scale for every series of a cluster, whatever their units.
/// </summary>
public sealed class DriftQueries(NpgsqlDataSource dataSource)
{
    public async Task<IReadOnlyList<ClusterDayError>> ClusterDayErrorsAsync(int clusteringVersion, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<ClusterDayError>(new CommandDefinition(
            """
            with scoring as (
                     select distinct on (m.cluster_id) m.cluster_id, m.model_id, m.created_at
                     from model m
                     left join model_pin p on p.cluster_version = m.cluster_version and p.cluster_id = m.cluster_id
                     where m.cluster_version = @clusteringVersion and (p.model_id is null or p.model_id = m.model_id)
                     order by m.cluster_id, m.model_version desc),
                 latest as (
                     select distinct on (rs.series_id, rs.as_of) rs.series_id, rs.as_of, rs.scores, sa.cluster_id
                     from run_series rs
                     join run r on r.run_id = rs.run_id
                     join series_assignment sa on sa.series_id = rs.series_id and sa.cluster_version = @clusteringVersion
                     join scoring sc on sc.cluster_id = sa.cluster_id
                     where r.status = 'succeeded' and r.clustering_version = @clusteringVersion and r.started_at >= sc.created_at
                       and rs.status = 'scored' and rs.detail is null and rs.scores is not null
                     order by rs.series_id, rs.as_of, rs.run_id desc)
            select l.cluster_id as ClusterId, sc.model_id as ModelId, l.as_of as AsOf,
                   avg(p.score)::float8 as Error, count(distinct l.series_id)::int as Series
            from latest l
            join scoring sc on sc.cluster_id = l.cluster_id
            cross join lateral unnest(l.scores) as p(score)
            where p.score <> 'NaN'
            group by l.cluster_id, sc.model_id, l.as_of
            order by l.cluster_id, l.as_of
            """,
            new { clusteringVersion }, cancellationToken: cancellationToken))).AsList();
    }
}
