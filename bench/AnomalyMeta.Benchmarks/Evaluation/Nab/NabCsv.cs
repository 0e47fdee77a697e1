using AnomalyMeta.Scoring;
using System.Globalization;
using CsvHelper;

namespace AnomalyMeta.Benchmarks.Evaluation.Nab;

/// <summary>The CSV and timestamp conventions shared by NAB data files, label files and result files.</summary>
internal static class NabCsv
{
    /// <summary>How NAB writes a timestamp.</summary>
    public const string TimestampFormat = "yyyy-MM-dd HH:mm:ss";

    // Label files carry microseconds ("2014-02-19 10:50:00.000000"); data and result files do not.
    private static readonly string[] TimestampFormats =
    [
        TimestampFormat,
        "yyyy-MM-dd HH:mm:ss.FFFFFFF",
        "yyyy-MM-ddTHH:mm:ss",
        "yyyy-MM-ddTHH:mm:ss.FFFFFFF",
    ];

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

    public static CsvReader Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file.", path);
        }
        return CsvReader.FromFile(path, StrictOptions, FileOptions.SequentialScan);
    }

    /// <summary>The indexes of the wanted columns; a missing one is named with the header found.</summary>
    public static int[] Columns(CsvReader csv, string name, params string[] wanted)
    {
        Guarded(name, () =>
        {
            csv.ReadHeader();
            return true;
        });
        if (csv.Headers.Count == 0)
        {
            throw new InvalidDataException($"{name}: empty file; expected a header with '{string.Join(',', wanted)}'.");
        }
        var index = new int[wanted.Length];
        for (int c = 0; c < wanted.Length; c++)
        {
            if (!csv.TryGetFieldIndex(wanted[c], out index[c]))
            {
                throw new InvalidDataException($"{name} line 1: no '{wanted[c]}' column; expected '{string.Join(',', wanted)}', found '{string.Join(',', csv.Headers)}'.");
            }
        }
        return index;
    }

    /// <summary>A CsvHelper read with malformed CSV reported by file and line, like every other error of the file.</summary>
    public static T Guarded<T>(string name, Func<T> read)
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

    public static string Field(CsvReader csv, int index) => index < csv.FieldCount ? (csv.GetStringOrNull(index) ?? "").Trim() : "";

    public static bool TryParseTimestamp(string text, out DateTime timestamp) =>
        DateTime.TryParseExact(text.Trim(), TimestampFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out timestamp);

    public static DateTime Timestamp(CsvReader csv, int index, string name)
    {
        string text = Field(csv, index);
        if (!TryParseTimestamp(text, out var timestamp))
        {
            throw new InvalidDataException($"{name} line {csv.LineNumber}, field '{csv.Headers[index]}': '{text}' is not a timestamp (expected {TimestampFormat}).");
        }
        return timestamp;
    }

    public static double Number(CsvReader csv, int index, string name)
    {
        string text = Field(csv, index);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            throw new InvalidDataException($"{name} line {csv.LineNumber}, field '{csv.Headers[index]}': '{text}' is not a finite number.");
        }
        return value;
    }

    public static string Format(DateTime timestamp) =>
        timestamp.Ticks % TimeSpan.TicksPerSecond == 0
            ? timestamp.ToString(TimestampFormat, CultureInfo.InvariantCulture)
            : timestamp.ToString(TimestampFormat + ".ffffff", CultureInfo.InvariantCulture);
}
