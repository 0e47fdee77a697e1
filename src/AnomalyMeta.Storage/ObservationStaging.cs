using System.Runtime.CompilerServices;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>
/// A row of observation_staging as loaded. <paramref name="Ts"/> is null for an infinite timestamp (it has no UTC
/// time to check); <paramref name="Value"/> is null for a missing point.
/// </summary>
public sealed record StagedObservation(string SeriesKey, DateTime? Ts, float? Value, DateTime LoadedAt, string? Batch);

/// <summary>
/// Reads the staging table an ETL tool loads (db/0014), on a connection of its own: the ingest's connection is busy
/// with its COPY while the rows stream in, and the ingest's lock (<see cref="IngestTransaction.LockStagedObservationsAsync"/>)
/// keeps the table as this read sees it until the ingest deletes it.
/// </summary>
public sealed class ObservationStaging(NpgsqlDataSource dataSource)
{
    /// <summary>Every staged row, loads in the order they were loaded and a load's rows in the order they were copied.</summary>
    public async IAsyncEnumerable<StagedObservation> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(
                """
                select series_key, case when isfinite(ts) then ts end, value, loaded_at, batch
                from observation_staging
                order by loaded_at, ctid
                """, connection);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        yield return new StagedObservation(
                            reader.GetString(0),
                            reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTime>(1),
                            reader.IsDBNull(2) ? null : reader.GetFloat(2),
                            reader.GetFieldValue<DateTime>(3),
                            reader.IsDBNull(4) ? null : reader.GetString(4));
                    }
                }
            }
        }
    }
}
