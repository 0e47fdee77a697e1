using System.Globalization;
using CsvHelper;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>The days of observations read from a file, grouped per series, ready to write.</summary>
public sealed record ObservationFile(string Path, int StepSeconds, int Rows, IReadOnlyDictionary<string, SortedDictionary<DateOnly, float[]>> Series);

/// <summary>
/// Reads observations in long CSV form: a header <c>series_key,timestamp,value</c>, one point per line, timestamps in
/// UTC (ISO 8601, for example <c>2026-11-22T05:00:00Z</c>) on the series' step, an empty value for a missing point.
/// The whole file is checked before anything is written: the first bad line stops the read with its file, line and
/// field named, so a bad file commits nothing.
/// </summary>
public static class ObservationCsv
{
    private static readonly string[] Columns = ["series_key", "timestamp", "value"];

    public static ObservationFile Read(string path, int stepSeconds)
    {
        if (stepSeconds <= 0 || 86400 % stepSeconds != 0)
        {
            throw new ArgumentException($"A step of {stepSeconds} s does not divide a day (86400 s).", nameof(stepSeconds));
        }
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file.", path);
        }
        string name = System.IO.Path.GetFileName(path);
        int perDay = 86400 / stepSeconds;
        var series = new Dictionary<string, SortedDictionary<DateOnly, float[]>>(StringComparer.Ordinal);
        using var csv = CsvReader.FromFile(path, StrictOptions, FileOptions.SequentialScan);
        Guarded(name, () =>
        {
            csv.ReadHeader();
            return true;
        });
        var headers = csv.Headers;
        if (headers.Count == 0)
        {
            throw new InvalidDataException($"{name}: empty file; expected the header '{string.Join(',', Columns)}'.");
        }
        var index = new int[Columns.Length];
        for (int c = 0; c < Columns.Length; c++)
        {
            if (!csv.TryGetFieldIndex(Columns[c], out index[c]))
            {
                throw new InvalidDataException($"{name} line 1: no '{Columns[c]}' column; expected the header '{string.Join(',', Columns)}', found '{string.Join(',', headers)}'.");
            }
        }

        int rows = 0;
        while (Guarded(name, csv.Read))
        {
            long line = csv.LineNumber;
            string key = Field(csv, index[0]);
            if (key.Length == 0)
            {
                throw new InvalidDataException($"{name} line {line}, field 'series_key': empty.");
            }
            string timestampText = Field(csv, index[1]);
            if (!DateTimeOffset.TryParse(timestampText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var timestamp))
            {
                throw new InvalidDataException($"{name} line {line}, field 'timestamp': '{timestampText}' is not a date and time (expected ISO 8601 UTC, e.g. 2026-11-22T05:00:00Z).");
            }
            var utc = timestamp.UtcDateTime;
            long secondOfDay = (long)utc.TimeOfDay.TotalSeconds;
            if (secondOfDay % stepSeconds != 0 || utc.Ticks % TimeSpan.TicksPerSecond != 0)
            {
                throw new InvalidDataException($"{name} line {line}, field 'timestamp': '{timestampText}' is not on the {stepSeconds} s step.");
            }
            string valueText = Field(csv, index[2]);
            float value = float.NaN;
            if (valueText.Length > 0 && (!float.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out value) || !float.IsFinite(value)))
            {
                throw new InvalidDataException($"{name} line {line}, field 'value': '{valueText}' is not a finite number (leave it empty for a missing point).");
            }

            if (!series.TryGetValue(key, out var days))
            {
                series[key] = days = [];
            }
            var day = DateOnly.FromDateTime(utc);
            if (!days.TryGetValue(day, out var points))
            {
                days[day] = points = new float[perDay];
                Array.Fill(points, float.NaN);
            }
            int slot = (int)(secondOfDay / stepSeconds);
            if (!float.IsNaN(points[slot]))
            {
                throw new InvalidDataException($"{name} line {line}: series '{key}' has a second value at {utc:yyyy-MM-ddTHH:mm:ssZ}.");
            }
            points[slot] = value;
            rows++;
        }
        return new ObservationFile(path, stepSeconds, rows, series);
    }

    /// <summary>
    /// Comma-separated (no guessing from the first lines), and broken quoting is an error instead of being repaired into
    /// values nobody wrote. Line numbers are what a person fixing the file needs.
    /// </summary>
    private static CsvReaderOptions StrictOptions => new()
    {
        TrackLineNumbers = true,
        Separator = ',',
        MalformedData = CsvMalformedDataHandling.Throw,
    };

    /// <summary>A CsvHelper read with malformed CSV reported by file and line, like every other error of the file.</summary>
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

    private static string Field(CsvReader csv, int index) => index < csv.FieldCount ? (csv.GetStringOrNull(index) ?? "").Trim() : "";
}
