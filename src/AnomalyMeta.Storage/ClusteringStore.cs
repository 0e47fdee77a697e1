using AnomalyMeta.Storage.Records;
using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace AnomalyMeta.Storage;

/// <summary>
/// Versions of the clustering step's output: the clustering (method, parameters, counts) and its clusters
/// (periods, sizes, centroids). <see cref="SaveWithAssignmentsAsync"/> writes a new clustering together with every
/// series' assignment; later assignments (new series) go through <see cref="SeriesRepository.UpdateAssignmentsAsync"/>.
/// </summary>
public sealed class ClusteringStore
{
    private readonly NpgsqlDataSource _dataSource;

    public ClusteringStore(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
    }

    /// <summary>The version the next clustering should take: one above the newest, 1 for the first.</summary>
    public async Task<int> NextVersionAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
                "select coalesce(max(cluster_version), 0) + 1 from clustering",
                cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Saves a clustering and its clusters in one transaction, without assignments: for tests that assign separately.
    /// The clustering step uses <see cref="SaveWithAssignmentsAsync"/>, so no version exists without its assignments.
    /// The version must be new: two writers racing for the same <see cref="NextVersionAsync"/> value make the second
    /// fail on the primary key, not merge.
    /// </summary>
    internal async Task SaveAsync(StoredClustering clustering, CancellationToken cancellationToken)
    {
        Validate(clustering);
        await _dataSource.InTransactionAsync(
            (connection, transaction) => InsertInAsync(connection, transaction, clustering, cancellationToken),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Saves a clustering, its clusters and every series' assignment to it in one transaction: a failure leaves no
    /// clustering version without its assignments for training and scoring to trip over. Returns the assignments
    /// written.
    /// </summary>
    public async Task<int> SaveWithAssignmentsAsync(
        StoredClustering clustering, IReadOnlyList<SeriesAssignment> assignments, CancellationToken cancellationToken)
    {
        Validate(clustering);
        SeriesRepository.ValidateAssignments(clustering.Version, assignments);
        return await _dataSource.InTransactionAsync(
            async (connection, transaction) =>
            {
                await InsertInAsync(connection, transaction, clustering, cancellationToken).ConfigureAwait(false);
                return await SeriesRepository.AssignInAsync(connection, transaction, clustering.Version, assignments, cancellationToken, newVersion: true)
                    .ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
    }

    private static void Validate(StoredClustering clustering)
    {
        ArgumentNullException.ThrowIfNull(clustering);
        ArgumentException.ThrowIfNullOrWhiteSpace(clustering.Method);
        ArgumentNullException.ThrowIfNull(clustering.Clusters);
        var ids = new HashSet<int>(clustering.Clusters.Count);
        foreach (var cluster in clustering.Clusters)
        {
            if (cluster is null || !ids.Add(cluster.ClusterId))
            {
                throw new ArgumentException(
                    $"Clustering version {clustering.Version}: cluster {cluster?.ClusterId.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"} is listed twice or null.",
                    nameof(clustering));
            }

            if (cluster.Centroid is null)
            {
                throw new ArgumentException($"Clustering version {clustering.Version}: cluster {cluster.ClusterId} has no centroid.", nameof(clustering));
            }
        }
    }

    private static async Task InsertInAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, StoredClustering clustering, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            """
            insert into clustering (cluster_version, method, parameters, series_count, moved_count)
            values (@Version, @Method, cast(@ParametersJson as jsonb), @SeriesCount, @MovedCount)
            """,
            new
            {
                clustering.Version,
                clustering.Method,
                ParametersJson = string.IsNullOrWhiteSpace(clustering.ParametersJson) ? "{}" : clustering.ParametersJson,
                clustering.SeriesCount,
                clustering.MovedCount,
            },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);

        var importer = await connection.BeginBinaryImportAsync(
            "copy cluster (cluster_version, cluster_id, primary_period, secondary_period, series_count, centroid) from stdin (format binary)",
            cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            foreach (var cluster in clustering.Clusters)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(clustering.Version, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(cluster.ClusterId, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await WriteNullableAsync(importer, cluster.PrimaryPeriod, cancellationToken).ConfigureAwait(false);
                await WriteNullableAsync(importer, cluster.SecondaryPeriod, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(cluster.SeriesCount, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(cluster.Centroid, NpgsqlDbType.Array | NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every series' cluster in clustering <paramref name="clusterVersion"/>, by series_id.</summary>
    public async Task<IReadOnlyDictionary<int, int>> AssignmentsAsync(int clusterVersion, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var rows = await connection.QueryAsync<(int SeriesId, int ClusterId)>(new CommandDefinition(
                "select series_id, cluster_id from series_assignment where cluster_version = @clusterVersion",
                new { clusterVersion }, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return rows.ToDictionary(r => r.SeriesId, r => r.ClusterId);
        }
    }

    /// <summary>The newest clustering with its clusters in cluster_id order, or null before the first clustering.</summary>
    public Task<StoredClustering?> LoadLatestAsync(CancellationToken cancellationToken) => LoadNewestAsync(liveOnly: false, cancellationToken);

    /// <summary>
    /// The clustering that scores: the newest one training has been through (<see cref="MarkLiveAsync"/>), or null
    /// before the first training.
    /// </summary>
    public Task<StoredClustering?> LoadLiveAsync(CancellationToken cancellationToken) => LoadNewestAsync(liveOnly: true, cancellationToken);

    /// <summary>One clustering by version (the one a run recorded), or null when there is no such version.</summary>
    public Task<StoredClustering?> LoadAsync(int version, CancellationToken cancellationToken) => LoadNewestAsync(liveOnly: false, cancellationToken, version);

    /// <summary>
    /// Puts <paramref name="version"/> live: every cluster of it has been trained or found too young to train. A later
    /// call keeps the first time.
    /// </summary>
    public async Task MarkLiveAsync(int version, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "update clustering set live_at = now() where cluster_version = @version and live_at is null",
                new { version }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
    }

    private async Task<StoredClustering?> LoadNewestAsync(bool liveOnly, CancellationToken cancellationToken, int? version = null)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var header = await connection.QuerySingleOrDefaultAsync<ClusteringRow>(new CommandDefinition(
                $"""
                select cluster_version as Version, method as Method, parameters::text as ParametersJson,
                       series_count as SeriesCount, moved_count as MovedCount, created_at as CreatedAt, live_at as LiveAt
                from clustering
                {(version is not null ? "where cluster_version = @version" : liveOnly ? "where live_at is not null" : "")}
                order by cluster_version desc
                limit 1
                """,
                new { version }, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (header is null)
            {
                return null;
            }

            var clusters = await connection.QueryAsync<ClusterRow>(new CommandDefinition(
                """
                select cluster_id as ClusterId, primary_period as PrimaryPeriod, secondary_period as SecondaryPeriod,
                       series_count as SeriesCount, centroid as Centroid
                from cluster
                where cluster_version = @Version
                order by cluster_id
                """,
                new { header.Version },
                cancellationToken: cancellationToken)).ConfigureAwait(false);

            return new StoredClustering(
                header.Version,
                header.Method,
                header.ParametersJson,
                header.SeriesCount,
                header.MovedCount,
                clusters.Select(c => new ClusterSummary(c.ClusterId, c.PrimaryPeriod, c.SecondaryPeriod, c.SeriesCount, c.Centroid)).ToList(),
                Utc(header.CreatedAt),
                header.LiveAt is DateTime live ? Utc(live) : null);
        }
    }

    private static DateTimeOffset Utc(DateTime time) => new(DateTime.SpecifyKind(time, DateTimeKind.Utc));

    /// <summary>
    /// Counts the series whose cluster in <paramref name="version"/> differs from their cluster in the previous
    /// version, stores it as the clustering's moved_count and returns it; null when there is no previous version.
    /// Only series assigned in both versions count, and cluster ids are compared as they are: the clustering
    /// step is expected to keep ids stable across versions.
    /// </summary>
    public async Task<int?> UpdateMovedCountAsync(int version, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
                """
                with previous as (
                    select max(cluster_version) as version from clustering where cluster_version < @version
                ), moved as (
                    select count(*)::integer as n
                    from series_assignment cur
                    join series_assignment prev on prev.series_id = cur.series_id
                    where cur.cluster_version = @version
                      and prev.cluster_version = (select version from previous)
                      and prev.cluster_id <> cur.cluster_id
                )
                update clustering
                set moved_count = case when (select version from previous) is null then null else (select n from moved) end
                where cluster_version = @version
                returning moved_count
                """,
                new { version },
                cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
    }

    private static Task WriteNullableAsync(NpgsqlBinaryImporter importer, int? value, CancellationToken cancellationToken) =>
        value is { } v
            ? importer.WriteAsync(v, NpgsqlDbType.Integer, cancellationToken)
            : importer.WriteNullAsync(cancellationToken);

    private sealed class ClusteringRow
    {
        public int Version { get; init; }

        public string Method { get; init; } = "";

        public string ParametersJson { get; init; } = "{}";

        public int SeriesCount { get; init; }

        public int? MovedCount { get; init; }

        public DateTime CreatedAt { get; init; }

        public DateTime? LiveAt { get; init; }
    }

    private sealed class ClusterRow
    {
        public int ClusterId { get; init; }

        public int? PrimaryPeriod { get; init; }

        public int? SecondaryPeriod { get; init; }

        public int SeriesCount { get; init; }

        public float[] Centroid { get; init; } = [];
    }
}
