using System.Globalization;

namespace AnomalyMeta.Periodicity.Benchmarks;

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
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (lineNumber == 1 || line.Length == 0)
            {
                continue;
            }

            values.Clear();
            string? id = null;
            int column = 0;
            int lastValueCount = 0;
            foreach (Range range in line.AsSpan().Split(','))
            {
                column++;
                ReadOnlySpan<char> cell = line.AsSpan(range).Trim();
                if (cell.Length >= 2 && cell[0] == '"' && cell[^1] == '"')
                {
                    cell = cell[1..^1];
                }

                if (column == 1)
                {
                    if (cell.IsEmpty)
                    {
                        throw new InvalidDataException($"{name} line {lineNumber}, column 1: the series id is empty.");
                    }

                    id = cell.ToString();
                    continue;
                }

                if (cell.IsEmpty || cell.SequenceEqual("NA"))
                {
                    // Empty cells are the ragged end of a short series; an empty cell inside a series is a gap.
                    values.Add(float.NaN);
                    continue;
                }

                if (!float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
                {
                    throw new InvalidDataException($"{name} line {lineNumber}, column {column}: '{cell}' is not a number.");
                }

                values.Add(value);
                lastValueCount = values.Count;
            }

            if (lastValueCount == 0)
            {
                throw new InvalidDataException($"{name} line {lineNumber}: series '{id}' has no values.");
            }

            series.Add(new M4Series(id!, values.GetRange(0, lastValueCount).ToArray()));
        }

        if (series.Count == 0)
        {
            throw new InvalidDataException($"{name}: no series after the header row.");
        }

        return series;
    }
}
