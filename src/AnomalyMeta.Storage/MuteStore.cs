using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>
/// A mute as stored: a series whole (<paramref name="From"/> and <paramref name="To"/> null) or over [From, To), and
/// how many of its flags it marked muted when it was created or lifted.
/// </summary>
public sealed record MuteLine(long MuteId, string SeriesKey, DateTime? From, DateTime? To, string Reason, string MutedBy, DateTime CreatedAt, int FlagsMarked);

/// <summary>
/// Mutes (<c>mute</c>): a muted series' flags are still written, marked <c>anomaly.muted</c> (by a trigger on insert,
/// and here for the flags already written), so alerting reads <c>alertable_anomaly</c> and evaluations still see them.
/// </summary>
public sealed class MuteStore(NpgsqlDataSource dataSource)
{
    /// <summary>Longest reason accepted, in characters.</summary>
    public const int MaxReasonLength = 500;

    /// <summary>
    /// Mutes <paramref name="seriesKey"/> over [<paramref name="from"/>, <paramref name="to"/>) (an open end when null)
    /// and marks its flags already written in that range. Throws <see cref="NotFoundException"/> for an unknown series.
    /// </summary>
    public async Task<MuteLine> MuteAsync(string seriesKey, DateTimeOffset? from, DateTimeOffset? to, string reason, string mutedBy,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(seriesKey);
        ArgumentException.ThrowIfNullOrWhiteSpace(mutedBy);
        if (Problem(from, to, reason) is string problem)
        {
            throw new ArgumentException(problem, nameof(reason));
        }
        return await dataSource.InTransactionAsync(async (connection, transaction) =>
        {
            var line = await connection.QuerySingleOrDefaultAsync<MuteLine>(new CommandDefinition(
                """
                insert into mute (series_id, from_ts, to_ts, reason, muted_by)
                select series_id, @from, @to, @reason, @mutedBy from series where series_key = @seriesKey
                returning mute_id as MuteId, @seriesKey as SeriesKey, from_ts as From, to_ts as To, reason as Reason, muted_by as MutedBy,
                          created_at as CreatedAt, 0 as FlagsMarked
                """,
                new { seriesKey, from = from?.UtcDateTime, to = to?.UtcDateTime, reason, mutedBy }, transaction, cancellationToken: cancellationToken))
                ?? throw new NotFoundException($"No such series: '{seriesKey}'.");
            int marked = await connection.ExecuteAsync(new CommandDefinition(
                """
                update anomaly a set muted = true
                from mute m
                where m.mute_id = @muteId and a.series_id = m.series_id and not a.muted
                  and (m.from_ts is null or a.ts >= m.from_ts) and (m.to_ts is null or a.ts < m.to_ts)
                """,
                new { muteId = line.MuteId }, transaction, cancellationToken: cancellationToken));
            return line with { FlagsMarked = marked };
        }, cancellationToken);
    }

    /// <summary>
    /// Lifts mute <paramref name="muteId"/>: its series' flags are unmarked unless another mute still covers them.
    /// Returns the mute as it was, with the flags unmarked. Throws <see cref="NotFoundException"/> for an unknown mute.
    /// </summary>
    public async Task<MuteLine> LiftAsync(long muteId, CancellationToken cancellationToken) =>
        await dataSource.InTransactionAsync(async (connection, transaction) =>
        {
            var line = await connection.QuerySingleOrDefaultAsync<MuteLine>(new CommandDefinition(
                """
                delete from mute m using series s
                where m.mute_id = @muteId and s.series_id = m.series_id
                returning m.mute_id as MuteId, s.series_key as SeriesKey, m.from_ts as From, m.to_ts as To, m.reason as Reason,
                          m.muted_by as MutedBy, m.created_at as CreatedAt, 0 as FlagsMarked
                """,
                new { muteId }, transaction, cancellationToken: cancellationToken))
                ?? throw new NotFoundException($"There is no mute {muteId}.");
            int unmarked = await connection.ExecuteAsync(new CommandDefinition(
                """
                update anomaly a set muted = false
                from series s
                where s.series_key = @seriesKey and a.series_id = s.series_id and a.muted
                  and not exists (select 1 from mute m where m.series_id = a.series_id
                                  and (m.from_ts is null or a.ts >= m.from_ts) and (m.to_ts is null or a.ts < m.to_ts))
                """,
                new { seriesKey = line.SeriesKey }, transaction, cancellationToken: cancellationToken));
            return line with { FlagsMarked = unmarked };
        }, cancellationToken);

    /// <summary>The mutes of every series, newest first.</summary>
    public async Task<IReadOnlyList<MuteLine>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<MuteLine>(new CommandDefinition(
            """
            select m.mute_id as MuteId, s.series_key as SeriesKey, m.from_ts as From, m.to_ts as To, m.reason as Reason, m.muted_by as MutedBy,
                   m.created_at as CreatedAt, 0 as FlagsMarked
            from mute m join series s using (series_id)
            order by m.mute_id desc
            """,
            cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>What is wrong with a mute's range or reason, or null.</summary>
    public static string? Problem(DateTimeOffset? from, DateTimeOffset? to, string? reason)
    {
        if (from is DateTimeOffset start && to is DateTimeOffset end && start >= end)
        {
            return $"A mute's 'from' ({start.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}) must be before its 'to' ({end.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}).";
        }
        if (string.IsNullOrWhiteSpace(reason))
        {
            return "A mute needs a reason: whoever wonders why a series is silent reads it.";
        }
        if (reason.Length > MaxReasonLength || reason.Any(char.IsControl))
        {
            return $"A mute's reason has at most {MaxReasonLength} characters and no control characters.";
        }
        return null;
    }
}
