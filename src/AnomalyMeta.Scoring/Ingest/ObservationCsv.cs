using System.Globalization;
using System.Runtime.CompilerServices;
using AnomalyMeta.Core.Series;
using CsvHelper;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>
/// The checked lines of a file, per series, in time order (equal timestamps in file order), before they are put on a
/// step: what step inference and aggregation work on.
/// </summary>
public sealed record ObservationReadings(string Path, int Rows, IReadOnlyDictionary<string, ObservationReading[]> Series);

/// <summary>One series of a file on its step: its days, and how many slots combined more than one value.</summary>
public sealed record ObservedSeries(int StepSeconds, SortedDictionary<DateOnly, float[]> Days, int AggregatedPoints);

/// <summary>The days of observations read from a file, grouped per series, each series on its own step, ready to write.</summary>
public sealed record ObservationFile(string Path, int Rows, IReadOnlyDictionary<string, ObservedSeries> Series)
{
    /// <summary>Slots, over all series, that received more than one (non-blank) value.</summary>
    public int AggregatedPoints => Series.Values.Sum(s => s.AggregatedPoints);
}

/// <summary>
/// Reads observations in long CSV form: a header <c>series_key,timestamp,value</c>, one reading per line, timestamps
/// in UTC as ISO 8601 (<c>2026-11-22T05:00:00Z</c>, an offset, fractional seconds, or no zone = UTC) or NAB's
/// <c>yyyy-MM-dd HH:mm:ss</c>, an empty value for a missing point. Readings need not be on the step: those of one step
/// slot are combined by an <see cref="ObservationAggregate"/>. The whole file is checked before anything is written:
/// the first bad line stops the read with its file, line and field named, so a bad file commits nothing.
/// </summary>
public static class ObservationCsv
{
    /// <summary>
    /// Values above this magnitude are refused: scoring works in 32-bit floats (largest 3.4e38) and sums and squares
    /// values (means, variances, squared errors), which overflow to infinity long before a value itself does.
    /// </summary>
    public const float MaxMagnitude = 1e30f;

    private static readonly string[] Columns = ["series_key", "timestamp", "value"];

    // Exact forms only: a free parse would read 01/02/2026 as a month or a day depending on culture, silently.
    // "K" takes Z, an offset like +01:00, or nothing (then AssumeUniversal makes it UTC).
    private static readonly string[] TimestampFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ssK",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd'T'HH:mmK",
        "yyyy-MM-dd HH:mm:ssK",
        "yyyy-MM-dd HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd",
    ];

    // The storage holds days as PostgreSQL dates; outside this range a date is almost surely a typo or a sentinel
    // (0001-01-01 used to be stored as -infinity).
    private static readonly DateTime FirstAccepted = new(1900, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime FirstRefused = new(2200, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>Reads and checks a file and puts every series on <paramref name="stepSeconds"/>.</summary>
    public static ObservationFile Read(string path, int stepSeconds, ObservationAggregate aggregate = ObservationAggregate.Mean)
    {
        CheckStep(stepSeconds, nameof(stepSeconds));
        var readings = ReadReadings(path);
        var steps = readings.Series.Keys.ToDictionary(key => key, _ => stepSeconds, StringComparer.Ordinal);
        return OnSteps(readings, steps, aggregate);
    }

    /// <summary>
    /// Reads and checks every line of a file: header, field count, series key, timestamp (form and range), value
    /// (number, finite, magnitude at most <see cref="MaxMagnitude"/>). Throws <see cref="InvalidDataException"/>
    /// naming file, line and field at the first bad line.
    /// </summary>
    public static ObservationReadings ReadReadings(string path)
    {
        var series = new Dictionary<string, List<ObservationReading>>(StringComparer.Ordinal);
        int rows = 0;
        foreach (var (key, reading) in Stream(path))
        {
            if (!series.TryGetValue(key, out var readings))
            {
                series[key] = readings = [];
            }
            readings.Add(reading);
            rows++;
        }
        return Grouped(path, rows, series);
    }

    /// <summary>
    /// Readings grouped per series, each put in time order (equal timestamps keep their file order): the form step
    /// inference and <see cref="OnSteps"/> work on.
    /// </summary>
    public static ObservationReadings Grouped(string path, int rows, Dictionary<string, List<ObservationReading>> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        var ordered = new Dictionary<string, ObservationReading[]>(series.Count, StringComparer.Ordinal);
        foreach (var (key, readings) in series)
        {
            var array = readings.ToArray();
            if (!IsInTimeOrder(array))
            {
                // Lines are unique, so (time, line) is a total order: equal timestamps keep their file order.
                Array.Sort(array, static (a, b) => a.UtcTicks != b.UtcTicks ? a.UtcTicks.CompareTo(b.UtcTicks) : a.Line.CompareTo(b.Line));
            }
            ordered[key] = array;
        }
        return new ObservationReadings(path, rows, ordered);
    }

    /// <summary>
    /// The checked readings of a file in file order, one line at a time (nothing held beyond the current line). The
    /// first bad line throws <see cref="InvalidDataException"/> naming file, line and field, when it is reached.
    /// </summary>
    public static IEnumerable<(string Key, ObservationReading Reading)> Stream(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file.", path);
        }
        return StreamLines(path);
    }

    /// <summary>
    /// The checked readings of a CSV read from <paramref name="stream"/> (a request body), one line at a time: the
    /// same header, checks and messages as <see cref="Stream(string)"/>, with <paramref name="name"/> where a file's
    /// name would be. Memory is what the CSV reader buffers, whatever the stream's length; the stream stays open.
    /// </summary>
    public static async IAsyncEnumerable<(string Key, ObservationReading Reading)> StreamAsync(Stream stream, string name,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var csv = CsvReader.Create(stream, StrictOptions, leaveOpen: true);
        await using (csv.ConfigureAwait(false))
        {
            try
            {
                await csv.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (CsvFormatException exception)
            {
                throw Malformed(name, exception);
            }
            var index = HeaderIndex(csv, name);
            while (true)
            {
                bool more;
                try
                {
                    more = await csv.ReadAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (CsvFormatException exception)
                {
                    throw Malformed(name, exception);
                }
                if (!more)
                {
                    yield break;
                }
                yield return Row(csv, name, index);
            }
        }
    }

    private static IEnumerable<(string Key, ObservationReading Reading)> StreamLines(string path)
    {
        string name = System.IO.Path.GetFileName(path);
        using var csv = CsvReader.FromFile(path, StrictOptions, FileOptions.SequentialScan);
        Guarded(name, () =>
        {
            csv.ReadHeader();
            return true;
        });
        var index = HeaderIndex(csv, name);
        while (Guarded(name, csv.Read))
        {
            yield return Row(csv, name, index);
        }
    }

    private static int[] HeaderIndex(CsvReader csv, string name) => CsvHeader.Index(csv, name, Columns);

    /// <summary>The current line checked: field count, series key, timestamp, value.</summary>
    private static (string Key, ObservationReading Reading) Row(CsvReader csv, string name, int[] index)
    {
        int line = checked((int)csv.LineNumber);
        int headerCount = csv.Headers.Count;
        if (csv.FieldCount != headerCount)
        {
            // A short row used to read as a missing value and a long one lost its tail: both hide a broken export.
            throw ObservationErrors.AtLine(name, line, null, $"{csv.FieldCount} fields, the header has {headerCount} "
                + "(a missing value is an empty last field, e.g. 'key,2026-01-01T00:00:00Z,').");
        }
        string key = Key(name, line, csv.GetStringOrNull(index[0]) ?? "");
        var utc = Timestamp(name, line, Field(csv, index[1]));
        float value = Value(name, line, Field(csv, index[2]));
        return (key, new ObservationReading(utc.Ticks, value, line));
    }

    /// <summary>A series key as sent, checked: not empty, no surrounding spaces or control characters, not too long.</summary>
    internal static string Key(string name, int line, string key)
    {
        if (key.Length == 0)
        {
            throw ObservationErrors.AtLine(name, line, "series_key", "empty.");
        }
        if (key.Trim().Length != key.Length || key.Any(char.IsControl) || key.Length > MaxKeyLength)
        {
            // Trimming or stripping would file the readings under another series than the sender meant.
            throw ObservationErrors.AtLine(name, line, "series_key", $"'{Printable(key)}' has surrounding spaces, control "
                + $"characters or more than {MaxKeyLength} characters; keys are stored exactly as written, so fix the export.");
        }
        return key;
    }

    /// <summary>
    /// Puts each series on its step: the readings whose timestamp floors to the same step slot are combined by
    /// <paramref name="aggregate"/>, ignoring blanks; a slot with only blanks is NaN. Every series of
    /// <paramref name="readings"/> needs a step in <paramref name="stepSeconds"/>.
    /// </summary>
    public static ObservationFile OnSteps(
        ObservationReadings readings,
        IReadOnlyDictionary<string, int> stepSeconds,
        ObservationAggregate aggregate)
    {
        ArgumentNullException.ThrowIfNull(readings);
        ArgumentNullException.ThrowIfNull(stepSeconds);
        if (!Enum.IsDefined(aggregate))
        {
            throw new ArgumentOutOfRangeException(nameof(aggregate), aggregate, "Unknown aggregate.");
        }
        string name = System.IO.Path.GetFileName(readings.Path);
        var series = new Dictionary<string, ObservedSeries>(readings.Series.Count, StringComparer.Ordinal);
        foreach (var (key, seriesReadings) in readings.Series)
        {
            if (!stepSeconds.TryGetValue(key, out int step))
            {
                throw new ArgumentException($"Series '{key}' of {name} has no step.", nameof(stepSeconds));
            }
            CheckStep(step, nameof(stepSeconds));
            series[key] = OnStep(name, key, seriesReadings, step, aggregate);
        }
        return new ObservationFile(readings.Path, readings.Rows, series);
    }

    private static ObservedSeries OnStep(string name, string key, ObservationReading[] readings, int stepSeconds, ObservationAggregate aggregate)
    {
        int perDay = 86400 / stepSeconds;
        long stepTicks = stepSeconds * TimeSpan.TicksPerSecond;
        var days = new SortedDictionary<DateOnly, float[]>();
        int aggregated = 0;
        int first = 0;
        while (first < readings.Length)
        {
            // The step divides a day, so flooring absolute ticks lands on the same slots as flooring within the day.
            long slotStart = readings[first].UtcTicks - (readings[first].UtcTicks % stepTicks);
            int end = first + 1;
            while (end < readings.Length && readings[end].UtcTicks - slotStart < stepTicks)
            {
                end++;
            }
            var slot = readings.AsSpan(first, end - first);
            float point = Combine(slot, aggregate, out int values);
            if (values > 1)
            {
                aggregated++;
            }
            if (MathF.Abs(point) > MaxMagnitude || float.IsInfinity(point))
            {
                // Only a sum can leave the range of its inputs.
                throw new InvalidDataException($"{name} lines {MinLine(slot)}-{MaxLine(slot)}: series '{key}' at {new DateTime(slotStart, DateTimeKind.Utc):yyyy-MM-ddTHH:mm:ssZ}: "
                    + $"the {aggregate.ToString().ToLowerInvariant()} of {values} values is {point.ToString("G9", CultureInfo.InvariantCulture)}, above {MaxMagnitude:G} in magnitude "
                    + "(scoring works in 32-bit floats and squares values, which overflow).");
            }

            var slotTime = new DateTime(slotStart, DateTimeKind.Utc);
            var day = DateOnly.FromDateTime(slotTime);
            if (!days.TryGetValue(day, out var points))
            {
                days[day] = points = new float[perDay];
                Array.Fill(points, float.NaN);
            }
            points[(int)(slotTime.TimeOfDay.Ticks / stepTicks)] = point;
            first = end;
        }
        return new ObservedSeries(stepSeconds, days, aggregated);
    }

    /// <summary>One slot's point from its readings (time order); blanks are unknown and take no part.</summary>
    private static float Combine(ReadOnlySpan<ObservationReading> slot, ObservationAggregate aggregate, out int values)
    {
        values = 0;
        double sum = 0;
        float min = float.PositiveInfinity;
        float max = float.NegativeInfinity;
        float firstValue = float.NaN;
        float lastValue = float.NaN;
        foreach (var reading in slot)
        {
            float v = reading.Value;
            if (float.IsNaN(v))
            {
                continue;
            }
            if (values == 0)
            {
                firstValue = v;
            }
            lastValue = v;
            values++;
            sum += v;
            min = MathF.Min(min, v);
            max = MathF.Max(max, v);
        }
        if (values == 0)
        {
            return float.NaN;
        }
        return aggregate switch
        {
            // Summed in double: a slot of many large floats keeps its precision until the one rounding at the end.
            ObservationAggregate.Mean => (float)(sum / values),
            ObservationAggregate.Sum => (float)sum,
            ObservationAggregate.Min => min,
            ObservationAggregate.Max => max,
            ObservationAggregate.Last => lastValue,
            ObservationAggregate.First => firstValue,
            _ => throw new ArgumentOutOfRangeException(nameof(aggregate), aggregate, "Unknown aggregate."),
        };
    }

    internal static DateTime Timestamp(string name, int line, string text)
    {
        if (!DateTimeOffset.TryParseExact(text, TimestampFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var timestamp))
        {
            throw ObservationErrors.AtLine(name, line, "timestamp", $"'{text}' is not a date and time "
                + "(expected ISO 8601, e.g. 2026-11-22T05:00:00Z or 2026-11-22T06:00:00+01:00, or yyyy-MM-dd HH:mm:ss in UTC).");
        }
        return InRange(name, line, timestamp.UtcDateTime, text);
    }

    /// <summary>A UTC time checked against the accepted range; <paramref name="text"/> is how the sender wrote it.</summary>
    internal static DateTime InRange(string name, int line, DateTime utc, string text)
    {
        if (utc < FirstAccepted || utc >= FirstRefused)
        {
            throw ObservationErrors.AtLine(name, line, "timestamp", $"'{text}' is outside the accepted range "
                + "1900-01-01 to 2200-01-01 (a date this far out is a typo or a placeholder, not an observation).");
        }
        return utc;
    }

    private static float Value(string name, int line, string text)
    {
        if (text.Length == 0)
        {
            return float.NaN;
        }
        // Parsed as double first: float parsing turns 1e39 into infinity and would hide why it is refused.
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            throw ObservationErrors.AtLine(name, line, "value", $"'{text}' is not a finite number (leave it empty for a missing point).");
        }
        return Checked(name, line, value, text);
    }

    /// <summary>A parsed value checked against <see cref="MaxMagnitude"/>; <paramref name="text"/> is how the sender wrote it.</summary>
    internal static float Checked(string name, int line, double value, string text)
    {
        if (!double.IsFinite(value))
        {
            throw ObservationErrors.AtLine(name, line, "value", $"'{text}' is not a finite number (leave it empty for a missing point).");
        }
        if (Math.Abs(value) > MaxMagnitude)
        {
            throw ObservationErrors.AtLine(name, line, "value", $"'{text}' is above {MaxMagnitude:G} in magnitude "
                + "(scoring works in 32-bit floats, largest 3.4e38, and squares values, which would overflow to infinity).");
        }
        return (float)value;
    }

    private static bool IsInTimeOrder(ObservationReading[] readings)
    {
        for (int i = 1; i < readings.Length; i++)
        {
            if (readings[i].UtcTicks < readings[i - 1].UtcTicks)
            {
                return false;
            }
        }
        return true;
    }

    private static int MinLine(ReadOnlySpan<ObservationReading> slot)
    {
        int line = int.MaxValue;
        foreach (var reading in slot)
        {
            line = Math.Min(line, reading.Line);
        }
        return line;
    }

    private static int MaxLine(ReadOnlySpan<ObservationReading> slot)
    {
        int line = 0;
        foreach (var reading in slot)
        {
            line = Math.Max(line, reading.Line);
        }
        return line;
    }

    private static void CheckStep(int stepSeconds, string parameter)
    {
        if (stepSeconds <= 0 || 86400 % stepSeconds != 0)
        {
            throw new ArgumentException($"A step of {stepSeconds} s does not divide a day (86400 s).", parameter);
        }
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
            throw Malformed(name, exception);
        }
    }

    private static InvalidDataException Malformed(string name, CsvFormatException exception) =>
        ObservationErrors.AtLine(name, checked((int)exception.LineNumber), null, $"malformed CSV ({exception.Message})", exception);

    /// <summary>Longest series key accepted (the dashboard and the logs show keys whole).</summary>
    public const int MaxKeyLength = 200;

    /// <summary>A key as an error message can show it: control characters as \uXXXX.</summary>
    private static string Printable(string key) =>
        string.Concat(key.Take(MaxKeyLength).Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));

    private static string Field(CsvReader csv, int index) => index < csv.FieldCount ? (csv.GetStringOrNull(index) ?? "").Trim() : "";
}
