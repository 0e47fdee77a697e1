using System.Runtime.CompilerServices;
using AnomalyMeta.Core.Series;
using AnomalyMeta.Storage.Records;
using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace AnomalyMeta.Storage;

/// <summary>
/// One ingest as one transaction on one connection, whatever the size of its file: readings too many to hold are
/// staged with binary COPY into a temporary table, read back one series at a time in (series, time, line) order through
/// a cursor (PostgreSQL sorts on disk when it must), and registered and written group by group. Nothing is visible to
/// anyone else until <see cref="CommitAsync"/>; disposing without it rolls everything back, so a bad line or a rejected
/// write anywhere in the file leaves nothing, and memory stays bounded by a group, not by the file.
/// </summary>
public sealed partial class IngestTransaction : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    // The staged readings carry a series' number, not its key: a quarter of the bytes to copy and an integer sort.
    private readonly List<string> _stagedKeys = [];
    private bool _staged;

    private IngestTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    internal static async Task<IngestTransaction> BeginAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            return new IngestTransaction(connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Stages readings (checked by the caller, which may throw from inside the sequence: the COPY is cancelled and the
    /// transaction rolls back) and returns how many there were. Called once per ingest.
    /// </summary>
    public async Task<int> StageAsync(IAsyncEnumerable<(string Key, ObservationReading Reading)> readings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (_staged)
        {
            throw new InvalidOperationException("An ingest stages its readings once.");
        }
        _staged = true;
        await ExecuteAsync(
            "create temp table reading_stage (series integer not null, ticks bigint not null, value real not null, line integer not null) on commit drop",
            cancellationToken).ConfigureAwait(false);
        int rows = 0;
        var numbers = new Dictionary<string, int>(StringComparer.Ordinal);
        var importer = await _connection.BeginBinaryImportAsync(
            "copy reading_stage (series, ticks, value, line) from stdin (format binary)", cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            await foreach (var (key, reading) in readings.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (!numbers.TryGetValue(key, out int number))
                {
                    numbers[key] = number = _stagedKeys.Count;
                    _stagedKeys.Add(key);
                }
                // Synchronous writes: four awaits per reading cost more than the COPY itself; the importer blocks only
                // when its buffer goes to the server.
                importer.StartRow();
                importer.Write(number, NpgsqlDbType.Integer);
                importer.Write(reading.UtcTicks, NpgsqlDbType.Bigint);
                importer.Write(reading.Value, NpgsqlDbType.Real);
                importer.Write(reading.Line, NpgsqlDbType.Integer);
                rows++;
            }
            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        return rows;
    }

    /// <summary>
    /// The staged readings, one series at a time, each in time order (equal timestamps in line order). Fetched through
    /// a cursor <paramref name="fetchSize"/> readings at a time with nothing left open between fetches, so the caller
    /// may register and write on this transaction while it enumerates.
    /// </summary>
    public async IAsyncEnumerable<(string Key, ObservationReading[] Readings)> ReadStagedAsync(int fetchSize,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fetchSize, 1);
        // The sort of the staged readings: in memory up to this much, on disk beyond (the session default is 4 MB).
        await ExecuteAsync("set local work_mem = '256MB'", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync("declare staged_readings no scroll cursor for select series, ticks, value, line from reading_stage order by series, ticks, line",
            cancellationToken).ConfigureAwait(false);
        int series = -1;
        var readings = new List<ObservationReading>();
        var fetched = new List<(int Series, ObservationReading Reading)>(fetchSize);
        while (true)
        {
            fetched.Clear();
            await using (var command = new NpgsqlCommand($"fetch forward {fetchSize} from staged_readings", _connection, _transaction))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    fetched.Add((reader.GetInt32(0), new ObservationReading(reader.GetInt64(1), reader.GetFloat(2), reader.GetInt32(3))));
                }
            }
            if (fetched.Count == 0)
            {
                break;
            }
            foreach (var (fetchedSeries, reading) in fetched)
            {
                if (series >= 0 && series != fetchedSeries)
                {
                    yield return (_stagedKeys[series], readings.ToArray());
                    readings.Clear();
                }
                series = fetchedSeries;
                readings.Add(reading);
            }
        }
        if (series >= 0)
        {
            yield return (_stagedKeys[series], readings.ToArray());
        }
        await ExecuteAsync("close staged_readings", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The spacings between consecutive distinct timestamps of every staged series, each with how often it occurs:
    /// what a series of a single reading takes its step from.
    /// </summary>
    public async Task<IReadOnlyList<(long SpacingTicks, long Count)>> StagedSpacingsAsync(CancellationToken cancellationToken)
    {
        var rows = await _connection.QueryAsync<(long, long)>(new CommandDefinition(
            """
            select spacing, count(*)
            from (select ticks - lag(ticks) over (partition by series order by ticks) as spacing from reading_stage) s
            where spacing > 0
            group by spacing
            """,
            transaction: _transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.AsList();
    }

    /// <summary>The step each of <paramref name="seriesKeys"/> is registered with, as this transaction sees it.</summary>
    public Task<IReadOnlyDictionary<string, int>> FindStepsAsync(IReadOnlyCollection<string> seriesKeys, CancellationToken cancellationToken) =>
        SeriesRepository.FindStepsInAsync(_connection, _transaction, seriesKeys, cancellationToken);

    /// <summary>Registers series and writes their day rows in this transaction (see <see cref="SeriesRepository"/>).</summary>
    public async Task<(IReadOnlyDictionary<string, int> Ids, long Written)> RegisterAndWriteAsync(
        IReadOnlyList<SeriesRegistration> series,
        Func<IReadOnlyDictionary<string, int>, IEnumerable<DayRow>> rowsFor,
        DayWriteMode mode,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rowsFor);
        SeriesRepository.ValidateRegistrations(series);
        var ids = await SeriesRepository.RegisterInAsync(_connection, _transaction, series, cancellationToken).ConfigureAwait(false);
        long written = await SeriesRepository.WriteInAsync(_connection, _transaction, rowsFor(ids), mode, cancellationToken).ConfigureAwait(false);
        return (ids, written);
    }

    /// <summary>Merges tags into the series (registered before, or by this transaction); see <see cref="SeriesTagStore"/>.</summary>
    public Task<TagMergeReport> MergeTagsAsync(IReadOnlyList<SeriesTag> tags, string name, CancellationToken cancellationToken) =>
        SeriesTagStore.MergeInAsync(_connection, _transaction, tags, name, cancellationToken);

    public Task CommitAsync(CancellationToken cancellationToken) => _transaction.CommitAsync(cancellationToken);

    /// <summary>Rolls back whatever was not committed and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _transaction.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken) =>
        _connection.ExecuteAsync(new CommandDefinition(sql, transaction: _transaction, cancellationToken: cancellationToken));
}
