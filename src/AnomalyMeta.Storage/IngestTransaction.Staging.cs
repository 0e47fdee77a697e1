namespace AnomalyMeta.Storage;

/// <summary>The staging table's part of an ingest: its rows are locked against new loads, merged, then deleted.</summary>
public sealed partial class IngestTransaction
{
    /// <summary>
    /// Locks observation_staging against writers until this transaction ends (readers go on): a load committed before
    /// is read and deleted whole, a load that starts now waits, so <see cref="DeleteStagedObservationsAsync"/> deletes
    /// exactly the rows <see cref="ObservationStaging.ReadAsync"/> read after this call.
    /// </summary>
    public Task LockStagedObservationsAsync(CancellationToken cancellationToken) =>
        ExecuteAsync("lock table observation_staging in exclusive mode", cancellationToken);

    /// <summary>Deletes every staged row in this transaction (they are merged when it commits) and returns how many.</summary>
    public async Task<long> DeleteStagedObservationsAsync(CancellationToken cancellationToken) =>
        await ExecuteAsync("delete from observation_staging", cancellationToken).ConfigureAwait(false);
}
