using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>Writes a generated fleet into PostgreSQL the way a real feed arrives: series registered, then day rows.</summary>
public sealed class SyntheticFleetIngest(SeriesRepository series)
{
    private const int BatchSize = 2000;

    /// <summary>Registers every series of the fleet and writes all its days; returns the number of day rows.</summary>
    public async Task<long> IngestAsync(SyntheticSeriesGenerator generator, CancellationToken cancellationToken)
    {
        var options = generator.Options;
        int perDay = options.PointsPerDay;
        int stepSeconds = 86400 / perDay;
        long written = 0;
        for (int first = 0; first < options.SeriesCount; first += BatchSize)
        {
            int count = Math.Min(BatchSize, options.SeriesCount - first);
            var generated = new SyntheticSeries[count];
            var registrations = new SeriesRegistration[count];
            for (int i = 0; i < count; i++)
            {
                generated[i] = generator.Generate(first + i);
                registrations[i] = new SeriesRegistration(generated[i].Key, stepSeconds,
                    new Dictionary<string, string> { ["family"] = generated[i].Family.ToString(), ["source"] = "synthetic" });
            }
            // One transaction per batch: a batch's series are registered together with their days.
            (_, long batchWritten) = await series.RegisterAndWriteAsync(registrations, ids => Rows(generated, ids, options), cancellationToken);
            written += batchWritten;
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
