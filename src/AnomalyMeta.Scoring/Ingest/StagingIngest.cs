using System.Collections;
using System.Globalization;
using System.Runtime.CompilerServices;
using AnomalyMeta.Core.Series;
using AnomalyMeta.Storage;
using Microsoft.Extensions.Logging;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>
/// Merges what an ETL tool loaded into observation_staging (db/0014) through the same ingest as a CSV file (the same
/// checks, step inference, aggregation and merge into stored days) and deletes those rows in the same transaction:
/// committed, a row is merged and gone; refused or failed, nothing is merged and every row stays staged. So a row is
/// merged exactly once whoever runs the merge (the morning job, `anomalymeta ingest-staging`, two at once: the second
/// waits for the table's lock and finds only what was loaded since).
/// </summary>
public sealed partial class StagingIngest(CsvIngest ingest, ObservationStaging staging, ILogger<StagingIngest> logger)
{
    /// <summary>The name messages and the series' <c>source</c> tag give the staging table.</summary>
    public const string SourceName = "observation_staging";

    /// <summary>
    /// Merges every staged row and deletes it, in one transaction. A bad row throws <see cref="InvalidDataException"/>
    /// naming it (key, timestamp, value, load time, batch) and the field at fault; nothing is merged or deleted.
    /// </summary>
    public async Task<IngestReport> MergeAsync(CsvIngestOptions options, CancellationToken cancellationToken)
    {
        var read = new ReadCount();
        var report = await ingest.IngestAsync(Readings(read, cancellationToken), SourceName, options,
            afterBegin: transaction => transaction.LockStagedObservationsAsync(cancellationToken),
            beforeCommit: async transaction =>
            {
                long deleted = await transaction.DeleteStagedObservationsAsync(cancellationToken).ConfigureAwait(false);
                if (deleted != read.Rows)
                {
                    // The lock makes this impossible; if it ever happens, merging what was read and deleting something
                    // else would lose or double rows, so nothing is committed.
                    throw new InvalidOperationException($"{SourceName}: {read.Rows} rows read but {deleted} deleted; nothing merged.");
                }
            },
            cancellationToken).ConfigureAwait(false);
        Merged(logger, report.Rows, report.Series, report.DayRows);
        return report;
    }

    /// <summary>
    /// The morning job's merge: like <see cref="MergeAsync"/>, but a refused row is logged (naming it) instead of
    /// thrown, so the morning still scores what is stored; the refused rows' series are scored once they are merged
    /// and the day scored again. Faults (the database down) still throw.
    /// </summary>
    public async Task<IngestReport?> MergeBeforeScoringAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await MergeAsync(new CsvIngestOptions(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (ObservationErrors.IsRefusal(exception))
        {
            Refused(logger, exception.Message);
            return null;
        }
    }

    private async IAsyncEnumerable<(string Key, ObservationReading Reading)> Readings(ReadCount read,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var row in staging.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // Rows have no line: the read order numbers them, and a refusal names the row by what it holds.
            int line = ++read.Rows;
            (string, ObservationReading) reading;
            try
            {
                reading = Check(row, line);
            }
            catch (InvalidDataException exception)
            {
                throw Named(exception, row);
            }
            yield return reading;
        }
    }

    private static (string Key, ObservationReading Reading) Check(StagedObservation row, int line)
    {
        string key = ObservationCsv.Key(SourceName, line, row.SeriesKey);
        if (row.Ts is not DateTime ts)
        {
            throw ObservationErrors.AtLine(SourceName, line, "ts", "infinite; a reading needs its time.");
        }
        var utc = ObservationCsv.InRange(SourceName, line, ts, Text(ts));
        float value = row.Value is float v ? ObservationCsv.Checked(SourceName, line, v, v.ToString("R", CultureInfo.InvariantCulture)) : float.NaN;
        return (key, new ObservationReading(utc.Ticks, value, line));
    }

    private static InvalidDataException Named(InvalidDataException exception, StagedObservation row)
    {
        string value = row.Value is float v ? v.ToString("R", CultureInfo.InvariantCulture) : "null";
        var named = new InvalidDataException(exception.Message
            + $" The row: series_key '{row.SeriesKey}', ts {(row.Ts is DateTime ts ? Text(ts) : "infinity")}, value {value}, "
            + $"loaded_at {Text(row.LoadedAt)}, batch {(row.Batch is null ? "null" : $"'{row.Batch}'")}. Nothing was merged and every row stays "
            + $"staged: fix or delete that row in {SourceName}.", exception);
        foreach (DictionaryEntry entry in exception.Data)
        {
            named.Data[entry.Key] = entry.Value;
        }
        return named;
    }

    private static string Text(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    private sealed class ReadCount
    {
        public int Rows { get; set; }
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Merged {Rows} staged readings into {Series} series ({DayRows} day rows) and deleted them from observation_staging")]
    private static partial void Merged(ILogger logger, int rows, int series, long dayRows);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Error, Message = "The staged observations were refused and stay staged (nothing merged): {Problem}")]
    private static partial void Refused(ILogger logger, string problem);
}
