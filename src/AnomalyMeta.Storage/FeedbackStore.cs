using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>Something named by a person (a series, a flag, a mute) does not exist; the message says which.</summary>
public sealed class NotFoundException(string message) : InvalidOperationException(message);

/// <summary>A person's verdict on a flag.</summary>
public enum Verdict
{
    /// <summary>Nothing was wrong: the flag should not have fired.</summary>
    FalsePositive,

    /// <summary>A real anomaly.</summary>
    Confirmed,
}

/// <summary>A verdict as stored: the flag (as-of day, series, point), the verdict, who gave it and when.</summary>
public sealed record FeedbackLine(DateOnly AsOf, string SeriesKey, DateTime Ts, string Verdict, string? Note, string GivenBy, DateTime GivenAt);

/// <summary>The verdicts on one day's flags; precision is confirmed / (confirmed + false positives).</summary>
public sealed record FeedbackDay(DateOnly AsOf, int Confirmed, int FalsePositive)
{
    public double? Precision => Confirmed + FalsePositive == 0 ? null : (double)Confirmed / (Confirmed + FalsePositive);
}

/// <summary>
/// Verdicts on flags (<c>anomaly_feedback</c>): recorded against a flag that exists when it is given, kept when a
/// rescore rewrites the day's flags (a verdict is about what was flagged). One verdict per flag: the latest wins.
/// </summary>
public sealed class FeedbackStore(NpgsqlDataSource dataSource)
{
    /// <summary>Longest note accepted, in characters.</summary>
    public const int MaxNoteLength = 1000;

    public static string ToDatabase(Verdict verdict) => verdict switch
    {
        Verdict.FalsePositive => "false_positive",
        Verdict.Confirmed => "confirmed",
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, "Unknown verdict."),
    };

    /// <summary>
    /// Records <paramref name="verdict"/> on the flag of <paramref name="seriesKey"/> at <paramref name="ts"/> (of the
    /// as-of day <paramref name="asOf"/> when given; else the latest day that flagged that point). Throws
    /// <see cref="NotFoundException"/> when the series is unknown or has no such flag.
    /// </summary>
    public async Task<FeedbackLine> RecordAsync(string seriesKey, DateTimeOffset ts, DateOnly? asOf, Verdict verdict, string? note, string givenBy,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(seriesKey);
        ArgumentException.ThrowIfNullOrWhiteSpace(givenBy);
        if (note is { Length: > MaxNoteLength })
        {
            throw new ArgumentException($"A note has at most {MaxNoteLength} characters; this one has {note.Length}.", nameof(note));
        }
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var line = await connection.QuerySingleOrDefaultAsync<FeedbackLine>(new CommandDefinition(
            """
            with flag as (
                select a.as_of, a.series_id, a.ts, s.series_key
                from anomaly a join series s using (series_id)
                where s.series_key = @seriesKey and a.ts = @ts and (@asOf::date is null or a.as_of = @asOf::date)
                order by a.as_of desc
                limit 1
            ), recorded as (
                insert into anomaly_feedback (as_of, series_id, ts, verdict, note, given_by)
                select as_of, series_id, ts, @verdict, @note, @givenBy from flag
                on conflict (as_of, series_id, ts) do update
                    set verdict = excluded.verdict, note = excluded.note, given_by = excluded.given_by, given_at = now()
                returning as_of, ts, verdict, note, given_by, given_at
            )
            select r.as_of as AsOf, f.series_key as SeriesKey, r.ts as Ts, r.verdict as Verdict, r.note as Note, r.given_by as GivenBy,
                   r.given_at as GivenAt
            from recorded r cross join flag f
            """,
            new { seriesKey, ts = ts.UtcDateTime, asOf, verdict = ToDatabase(verdict), note, givenBy }, cancellationToken: cancellationToken));
        if (line is not null)
        {
            return line;
        }
        bool known = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "select exists (select 1 from series where series_key = @seriesKey)", new { seriesKey }, cancellationToken: cancellationToken));
        string at = ts.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        throw new NotFoundException(known
            ? $"Series '{seriesKey}' has no flag at {at}{(asOf is DateOnly day ? $" on {day:yyyy-MM-dd}" : "")}: feedback is given on a flagged point."
            : $"No such series: '{seriesKey}'.");
    }

    /// <summary>The verdicts per as-of day from <paramref name="since"/> on (every day when null), oldest first.</summary>
    public async Task<IReadOnlyList<FeedbackDay>> ByDayAsync(DateOnly? since, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<FeedbackDay>(new CommandDefinition(
            """
            select as_of as AsOf,
                   (count(*) filter (where verdict = 'confirmed'))::int as Confirmed,
                   (count(*) filter (where verdict = 'false_positive'))::int as FalsePositive
            from anomaly_feedback
            where @since::date is null or as_of >= @since::date
            group by as_of
            order by as_of
            """,
            new { since }, cancellationToken: cancellationToken));
        return rows.AsList();
    }
}
