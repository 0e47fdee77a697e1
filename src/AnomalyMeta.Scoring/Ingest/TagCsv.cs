using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using CsvHelper;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>The checked rows of a tag file: its name (for messages) and one tag per row, with the row's line.</summary>
public sealed record TagFile(string Name, IReadOnlyList<SeriesTag> Tags);

/// <summary>
/// Reads a tag file, <c>series_key,key,value</c>, as strictly as an observation file: the first bad line stops the read
/// with file, line and field named, so a bad file writes nothing. A file may not set <c>source</c> (the ingest's own
/// tag) nor set one key of one series twice.
/// </summary>
public static class TagCsv
{
    private static readonly string[] Columns = ["series_key", "key", "value"];

    public static TagFile Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file.", path);
        }
        string name = Path.GetFileName(path);
        using var csv = CsvReader.FromFile(path, new CsvReaderOptions
        {
            TrackLineNumbers = true,
            Separator = ',',
            MalformedData = CsvMalformedDataHandling.Throw,
        }, FileOptions.SequentialScan);
        Guarded(name, () =>
        {
            csv.ReadHeader();
            return true;
        });
        var index = CsvHeader.Index(csv, name, Columns);
        var headers = csv.Headers;
        var tags = new List<SeriesTag>();
        var lineOf = new Dictionary<(string SeriesKey, string Key), int>();
        while (Guarded(name, csv.Read))
        {
            int line = checked((int)csv.LineNumber);
            if (csv.FieldCount != headers.Count)
            {
                throw new InvalidDataException($"{name} line {line}: {csv.FieldCount} fields, the header has {headers.Count}.");
            }
            // Kept exactly as written (no trimming): a trimmed key would tag another series than the sender meant.
            string seriesKey = csv.GetStringOrNull(index[0]) ?? "";
            string key = csv.GetStringOrNull(index[1]) ?? "";
            string value = csv.GetStringOrNull(index[2]) ?? "";
            if (SeriesTagRules.SeriesKeyProblem(seriesKey) is string seriesProblem)
            {
                throw new InvalidDataException($"{name} line {line}, field 'series_key': {seriesProblem}");
            }
            if (SeriesTagRules.KeyProblem(key) is string keyProblem)
            {
                throw new InvalidDataException($"{name} line {line}, field 'key': {keyProblem}");
            }
            if (key == SeriesTagRules.SourceKey)
            {
                throw new InvalidDataException($"{name} line {line}, field 'key': '{SeriesTagRules.SourceKey}' is the file a series was ingested from, "
                    + "written by `ingest`; a tag file may not set it.");
            }
            if (SeriesTagRules.ValueProblem(value) is string valueProblem)
            {
                throw new InvalidDataException($"{name} line {line}, field 'value': {valueProblem}");
            }
            if (!lineOf.TryAdd((seriesKey, key), line))
            {
                throw new InvalidDataException($"{name} line {line}: series '{seriesKey}' gets tag '{key}' a second time (first on line {lineOf[(seriesKey, key)]}).");
            }
            tags.Add(new SeriesTag(seriesKey, key, value, line));
        }
        return new TagFile(name, tags);
    }

    private static T Guarded<T>(string name, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (CsvFormatException exception)
        {
            throw new InvalidDataException($"{name} line {exception.LineNumber}: malformed CSV ({exception.Message})", exception);
        }
    }
}

/// <summary>`anomalymeta tags FILE`: a tag file merged into the registered series, all or nothing.</summary>
public sealed class TagImport(SeriesTagStore tags)
{
    public async Task<TagMergeReport> ImportAsync(string path, CancellationToken cancellationToken)
    {
        var file = TagCsv.Read(path);
        return await tags.MergeAsync(file.Tags, file.Name, cancellationToken).ConfigureAwait(false);
    }
}
