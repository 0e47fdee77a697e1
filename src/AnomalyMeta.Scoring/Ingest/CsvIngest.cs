using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>What an ingest wrote.</summary>
public sealed record IngestReport(int Rows, int Series, long DayRows);

/// <summary>
/// Loads a CSV of observations: the file is read and checked whole first (<see cref="ObservationCsv"/>), then the
/// series are registered and their days written in one transaction, so a bad file or a rejected write leaves nothing.
/// </summary>
public sealed class CsvIngest(SeriesRepository series)
{
    public async Task<IngestReport> IngestAsync(string path, int stepSeconds, CancellationToken cancellationToken)
    {
        var file = ObservationCsv.Read(path, stepSeconds);
        var registrations = new List<SeriesRegistration>(file.Series.Count);
        foreach (string key in file.Series.Keys)
        {
            registrations.Add(new SeriesRegistration(key, stepSeconds, new Dictionary<string, string> { ["source"] = Path.GetFileName(path) }));
        }
        (_, long written) = await series.RegisterAndWriteAsync(registrations, ids => Rows(file, ids), cancellationToken);
        return new IngestReport(file.Rows, file.Series.Count, written);
    }

    private static IEnumerable<DayRow> Rows(ObservationFile file, IReadOnlyDictionary<string, int> ids)
    {
        foreach (var (key, days) in file.Series)
        {
            foreach (var (day, points) in days)
            {
                yield return new DayRow(ids[key], day, points);
            }
        }
    }
}
