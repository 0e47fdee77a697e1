using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>One tag of one series, with the line of the file it came from (0 when it came from no file).</summary>
public sealed record SeriesTag(string SeriesKey, string Key, string Value, int Line = 0);

/// <summary>What a tag merge did: the tags given, the series they name, and the series whose tags actually changed.</summary>
public sealed record TagMergeReport(int Tags, int Series, int SeriesChanged);

/// <summary>
/// Merges tags into <c>series.tags</c>: the given keys are set, the series' other keys (the ingest's <c>source</c>
/// among them) stay. All or nothing: a tag naming a series that is not registered refuses the whole set.
/// </summary>
public sealed class SeriesTagStore(NpgsqlDataSource dataSource)
{
    // How many unknown series an error names before "and more".
    private const int MaxNamed = 5;

    /// <summary>Merges <paramref name="tags"/> in one transaction of its own.</summary>
    public async Task<TagMergeReport> MergeAsync(IReadOnlyList<SeriesTag> tags, string name, CancellationToken cancellationToken) =>
        await dataSource.InTransactionAsync(
            (connection, transaction) => MergeInAsync(connection, transaction, tags, name, cancellationToken), cancellationToken);

    /// <summary>
    /// Merges <paramref name="tags"/> inside the caller's transaction (an ingest's, so its new series can be tagged).
    /// Throws <see cref="InvalidDataException"/> naming file (<paramref name="name"/>), line and series when a series is
    /// not registered; the caller's transaction then writes nothing.
    /// </summary>
    internal static async Task<TagMergeReport> MergeInAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<SeriesTag> tags,
        string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tags);
        if (tags.Count == 0)
        {
            return new TagMergeReport(0, 0, 0);
        }
        string[] keys = [.. tags.Select(t => t.SeriesKey)];
        string[] names = [.. tags.Select(t => t.Key)];
        string[] values = [.. tags.Select(t => t.Value)];
        var unknown = (await connection.QueryAsync<string>(new CommandDefinition(
            "select distinct k from unnest(@keys) as k where not exists (select 1 from series s where s.series_key = k) order by k",
            new { keys }, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();
        if (unknown.Count > 0)
        {
            var lines = unknown.Take(MaxNamed).Select(k => $"line {tags.First(t => t.SeriesKey == k).Line}, field 'series_key': series '{k}' is not registered");
            throw new InvalidDataException($"{name}: {string.Join("; ", lines)}"
                + (unknown.Count > MaxNamed ? $"; and {unknown.Count - MaxNamed} more unknown series" : "")
                + ". Ingest a series before tagging it; nothing was written.");
        }
        // jsonb || sets the given keys and keeps the others; a series whose tags already hold them is not rewritten.
        int changed = await connection.ExecuteAsync(new CommandDefinition(
            """
            with given as (
                select k as series_key, jsonb_object_agg(n, v) as tags
                from unnest(@keys, @names, @values) as t(k, n, v)
                group by k
            )
            update series s set tags = s.tags || g.tags
            from given g
            where s.series_key = g.series_key and not s.tags @> g.tags
            """,
            new { keys, names, values }, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return new TagMergeReport(tags.Count, keys.Distinct(StringComparer.Ordinal).Count(), changed);
    }
}
