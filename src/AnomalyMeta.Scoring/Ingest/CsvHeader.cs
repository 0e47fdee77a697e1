using CsvHelper;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>The header of an ingest CSV (observations, tags): where each expected column is.</summary>
internal static class CsvHeader
{
    /// <summary>Where each of <paramref name="columns"/> is in the header just read; an empty file or a missing column is named.</summary>
    public static int[] Index(CsvReader csv, string name, string[] columns)
    {
        var headers = csv.Headers;
        if (headers.Count == 0)
        {
            throw new InvalidDataException($"{name}: empty file; expected the header '{string.Join(',', columns)}'.");
        }
        var index = new int[columns.Length];
        for (int c = 0; c < columns.Length; c++)
        {
            if (!csv.TryGetFieldIndex(columns[c], out index[c]))
            {
                throw ObservationErrors.AtLine(name, 1, null, $"no '{columns[c]}' column; expected the header '{string.Join(',', columns)}', found '{string.Join(',', headers)}'.");
            }
        }
        return index;
    }
}
