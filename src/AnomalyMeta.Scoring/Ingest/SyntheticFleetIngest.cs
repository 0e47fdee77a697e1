using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>
/// Writes a generated fleet into PostgreSQL the way a bulk backfill arrives: series registered with their days, in
/// chunks, each chunk one transaction (binary COPY straight into the table: the days are new). One COPY keeps one
/// PostgreSQL backend at a full core while the rest of the machine waits, so <see cref="Writers"/> chunks are written
/// at once, on their own connections. Each chunk registers its series only after the chunk before it has, so series
/// ids (taken from the sequence at registration, not at commit) are the same in every run of a seed.
/// </summary>
public sealed class SyntheticFleetIngest(SeriesRepository series)
{
    private const int ChunkSize = 2000;

    /// <summary>Chunks written at once, each on its own connection and PostgreSQL backend.</summary>
    public int Writers { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, 2);

    /// <summary>Registers every series of the fleet and writes all its days; returns the number of day rows.</summary>
    public async Task<long> IngestAsync(SyntheticSeriesGenerator generator, CancellationToken cancellationToken)
    {
        var options = generator.Options;
        int stepSeconds = 86400 / options.PointsPerDay;
        int chunks = (options.SeriesCount + ChunkSize - 1) / ChunkSize;
        // Two chunks generated ahead at most: memory stays at a few chunks whatever the fleet's size.
        var pending = new Queue<Task<SyntheticSeries[]>>();
        int next = 0;
        void GenerateAhead()
        {
            while (next < chunks && pending.Count < 2)
            {
                int first = next++ * ChunkSize;
                int count = Math.Min(ChunkSize, options.SeriesCount - first);
                pending.Enqueue(Task.Run(() => Enumerable.Range(first, count).Select(generator.Generate).ToArray(), cancellationToken));
            }
        }

        long written = 0;
        var writing = new Queue<Task<long>>();
        // The registration of the chunk before: a chunk's series take their ids after it.
        Task registeredBefore = Task.CompletedTask;
        GenerateAhead();
        try
        {
            while (pending.Count > 0)
            {
                var generated = await pending.Dequeue();
                GenerateAhead();
                if (writing.Count == Writers)
                {
                    written += await writing.Dequeue();
                }
                var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                writing.Enqueue(WriteChunkAsync(generated, stepSeconds, options, registeredBefore, registered, cancellationToken));
                registeredBefore = registered.Task;
            }
            while (writing.Count > 0)
            {
                written += await writing.Dequeue();
            }
        }
        catch
        {
            // Nothing may still write once the caller hears of the failure.
            await Task.WhenAll(writing.Concat<Task>(pending).Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            throw;
        }
        return written;
    }

    /// <summary>One chunk in one transaction: its series registered once the chunk before it has registered, then its days.</summary>
    private async Task<long> WriteChunkAsync(SyntheticSeries[] generated, int stepSeconds, SyntheticFleetOptions options, Task registeredBefore,
        TaskCompletionSource registered, CancellationToken cancellationToken)
    {
        try
        {
            await registeredBefore;
            var registrations = generated.Select(s => new SeriesRegistration(s.Key, stepSeconds,
                new Dictionary<string, string> { ["family"] = s.Family.ToString(), ["source"] = "synthetic" })).ToArray();
            (_, long written) = await series.RegisterAndWriteAsync(registrations, ids =>
            {
                // Called between the registration and the COPY of the days, in the chunk's transaction.
                registered.TrySetResult();
                return Rows(generated, ids, options);
            }, DayWriteMode.New, cancellationToken);
            return written;
        }
        catch (Exception error)
        {
            // The chunks after this one must not register out of order: they fail with it.
            registered.TrySetException(error);
            throw;
        }
    }

    private static IEnumerable<DayRow> Rows(SyntheticSeries[] generated, IReadOnlyDictionary<string, int> ids, SyntheticFleetOptions options)
    {
        int perDay = options.PointsPerDay;
        foreach (var s in generated)
        {
            int id = ids[s.Key];
            for (int day = 0; day < options.TotalDays; day++)
            {
                yield return new DayRow(id, options.FirstDay.AddDays(day), s.Values.AsSpan(day * perDay, perDay).ToArray());
            }
        }
    }
}
