using AnomalyMeta.Periodicity;
using System.Globalization;
using System.Text;
using CsvHelper;

namespace AnomalyMeta.Benchmarks;

/// <summary>One M4 series: its id and observed values.</summary>
/// <param name="Id">First column of the row, for example "H1".</param>
/// <param name="Values">Values in time order, trailing empty cells dropped.</param>
public sealed record M4Series(string Id, float[] Values);

/// <summary>
/// Reads the M4 competition CSV files: a quoted header row, then one series a row with the id in the first column
/// and ragged trailing empty cells. A malformed cell throws <see cref="InvalidDataException"/> naming file, line and
/// column.
/// </summary>
public static class M4File
{
    /// <summary>Reads every series of <paramref name="path"/>.</summary>
    public static IReadOnlyList<M4Series> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: file not found.", path);
        }

        string name = Path.GetFileName(path);
        var series = new List<M4Series>();
        var values = new List<float>(1024);
        // CsvHelper unquotes the cells. Comma-separated without guessing, and broken quoting is an error rather than
        // repaired into numbers nobody wrote; line numbers are what a person fixing the file needs.
        var options = new CsvReaderOptions { TrackLineNumbers = true, Separator = ',', MalformedData = CsvMalformedDataHandling.Throw };
        using var csv = CsvReader.FromFile(path, options, FileOptions.SequentialScan);
        try
        {
            csv.ReadHeader();
            while (csv.Read())
            {
                series.Add(ReadSeries(csv, name, values));
            }
        }
        catch (CsvFormatException exception)
        {
            throw new InvalidDataException($"{name} line {exception.LineNumber}: malformed CSV ({exception.Message})", exception);
        }

        if (series.Count == 0)
        {
            throw new InvalidDataException($"{name}: no series after the header row.");
        }

        return series;
    }

    /// <summary>The series on the reader's current record; <paramref name="values"/> is scratch space.</summary>
    private static M4Series ReadSeries(CsvReader csv, string name, List<float> values)
    {
        long line = csv.LineNumber;
        string id = (csv.GetStringOrNull(0) ?? "").Trim();
        if (id.Length == 0)
        {
            throw new InvalidDataException($"{name} line {line}, column 1: the series id is empty.");
        }

        values.Clear();
        int lastValueCount = 0;
        for (int column = 1; column < csv.FieldCount; column++)
        {
            ReadOnlySpan<byte> cell = csv.GetSpan(column).Trim((byte)' ');
            if (cell.IsEmpty || cell.SequenceEqual("NA"u8))
            {
                // Empty cells are the ragged end of a short series; an empty cell inside a series is a gap.
                values.Add(float.NaN);
                continue;
            }

            if (!float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
            {
                throw new InvalidDataException($"{name} line {line}, column {column + 1}: '{Encoding.UTF8.GetString(cell)}' is not a number.");
            }

            values.Add(value);
            lastValueCount = values.Count;
        }

        if (lastValueCount == 0)
        {
            throw new InvalidDataException($"{name} line {line}: series '{id}' has no values.");
        }

        return new M4Series(id, values.GetRange(0, lastValueCount).ToArray());
    }
}
