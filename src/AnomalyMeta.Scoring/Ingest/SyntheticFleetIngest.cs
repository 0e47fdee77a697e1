using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>
/// Writes a generated fleet into PostgreSQL the way a bulk backfill arrives: series registered with their days, in
/// chunks, each chunk one transaction (binary COPY straight into the table: the days are new). The next chunks are
/// generated on the other core while one is written; chunks are written in order, so series ids are the same in
/// every run of a seed.
/// </summary>
public sealed class SyntheticFleetIngest(SeriesRepository series)
{
    private const int ChunkSize = 2000;

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
        GenerateAhead();
        while (pending.Count > 0)
        {
            var generated = await pending.Dequeue();
            GenerateAhead();
            var registrations = generated.Select(s => new SeriesRegistration(s.Key, stepSeconds,
                new Dictionary<string, string> { ["family"] = s.Family.ToString(), ["source"] = "synthetic" })).ToArray();
            // One transaction per chunk: a chunk's series are registered together with their days.
            (_, long chunkWritten) = await series.RegisterAndWriteAsync(registrations, ids => Rows(generated, ids, options), DayWriteMode.New, cancellationToken);
            written += chunkWritten;
        }
        return written;
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
