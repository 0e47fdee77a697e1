using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using AnomalyMeta.Core.Series;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>
/// Reads observations as JSON lines (<c>application/x-ndjson</c>): one object a line,
/// <c>{"series_key":"…","timestamp":"…","value":1.5}</c>, <c>null</c> for a missing point. Every field is required and
/// no other is accepted, so a renamed or misspelt field is an error, not a silently missing point. Keys, timestamps
/// (the same forms, a JSON string) and values are checked as <see cref="ObservationCsv"/> checks a CSV's, with the
/// same messages; line 1 is the first line (there is no header). Blank lines carry nothing and are skipped.
/// </summary>
public static class ObservationJsonLines
{
    /// <summary>Longest line accepted, in bytes: a reading is a few hundred bytes even with a key of 200 characters.</summary>
    public const int MaxLineBytes = 16 * 1024;

    // Read from the stream this much at a time; lines are parsed from the buffer without copying.
    private const int BufferBytes = 256 * 1024;

    /// <summary>
    /// The checked readings of <paramref name="stream"/> in order, a buffer at a time: memory is one buffer and the
    /// readings of its lines, whatever the stream's length. The first bad line throws <see cref="InvalidDataException"/>
    /// naming <paramref name="name"/>, the line and the field.
    /// </summary>
    public static async IAsyncEnumerable<(string Key, ObservationReading Reading)> StreamAsync(Stream stream, string name,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        var parsed = new List<(string Key, ObservationReading Reading)>(4096);
        try
        {
            int start = 0;
            int end = 0;
            int line = 0;
            bool atStart = true;
            bool done = false;
            while (!done)
            {
                if (start > 0)
                {
                    // Keep the unfinished line at the front of the buffer.
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }
                int read = await stream.ReadAsync(buffer.AsMemory(end), cancellationToken).ConfigureAwait(false);
                end += read;
                done = read == 0;
                if (atStart)
                {
                    if (end < 3 && !done)
                    {
                        // Wait for the bytes a byte order mark would take.
                        continue;
                    }
                    // A UTF-8 byte order mark is not part of the first line.
                    start = end >= 3 && buffer.AsSpan(0, 3).SequenceEqual("\uFEFF"u8) ? 3 : 0;
                    atStart = false;
                }
                start = ParseLines(buffer, start, end, done, name, ref line, parsed);
                if (!done && end - start >= MaxLineBytes)
                {
                    throw ObservationErrors.AtLine(name, line + 1, null, $"longer than {MaxLineBytes} bytes; a line is one reading.");
                }
                foreach (var reading in parsed)
                {
                    yield return reading;
                }
                parsed.Clear();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Parses the complete lines of buffer[start..end) (and the last one without a newline when the stream is done)
    /// into <paramref name="parsed"/>; returns where the unfinished line starts.
    /// </summary>
    private static int ParseLines(byte[] buffer, int start, int end, bool done, string name, ref int line,
        List<(string Key, ObservationReading Reading)> parsed)
    {
        while (start < end)
        {
            var rest = buffer.AsSpan(start, end - start);
            int newline = rest.IndexOf((byte)'\n');
            if (newline < 0 && !done)
            {
                break;
            }
            int length = newline < 0 ? rest.Length : newline;
            line++;
            var text = rest[..length];
            if (text.Length > MaxLineBytes)
            {
                throw ObservationErrors.AtLine(name, line, null, $"longer than {MaxLineBytes} bytes; a line is one reading.");
            }
            if (!text.TrimEnd("\r\t "u8).IsEmpty)
            {
                parsed.Add(Parse(text, name, line));
            }
            start += newline < 0 ? length : length + 1;
        }
        return start;
    }

    private static (string Key, ObservationReading Reading) Parse(ReadOnlySpan<byte> text, string name, int line)
    {
        string? key = null;
        string? timestamp = null;
        float value = float.NaN;
        bool hasValue = false;
        try
        {
            var json = new Utf8JsonReader(text, new JsonReaderOptions { MaxDepth = 2 });
            if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
            {
                throw ObservationErrors.AtLine(name, line, null, "not a JSON object; expected {\"series_key\": \"...\", \"timestamp\": \"...\", \"value\": 1.5 or null}.");
            }
            while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
            {
                if (json.ValueTextEquals("series_key"u8))
                {
                    Once(key is not null, name, line, "series_key");
                    json.Read();
                    key = json.TokenType == JsonTokenType.String
                        ? ObservationCsv.Key(name, line, json.GetString()!)
                        : throw Expected(name, line, "series_key", "a string", json);
                }
                else if (json.ValueTextEquals("timestamp"u8))
                {
                    Once(timestamp is not null, name, line, "timestamp");
                    json.Read();
                    timestamp = json.TokenType == JsonTokenType.String ? json.GetString()! : throw Expected(name, line, "timestamp", "a string", json);
                }
                else if (json.ValueTextEquals("value"u8))
                {
                    Once(hasValue, name, line, "value");
                    hasValue = true;
                    json.Read();
                    value = json.TokenType switch
                    {
                        JsonTokenType.Null => float.NaN,
                        // A number too large for a double (1e400) reads as infinity and is refused by the check.
                        JsonTokenType.Number => ObservationCsv.Checked(name, line,
                            json.TryGetDouble(out double number) ? number : double.PositiveInfinity, Encoding.UTF8.GetString(json.ValueSpan)),
                        _ => throw Expected(name, line, "value", "a number or null (a missing point)", json),
                    };
                }
                else
                {
                    throw ObservationErrors.AtLine(name, line, json.GetString(), "unknown field; a line holds series_key, timestamp and value only.");
                }
            }
            // Reading past the object's end throws on anything but whitespace after it.
            json.Read();
        }
        catch (JsonException exception)
        {
            throw ObservationErrors.AtLine(name, line, null, $"malformed JSON ({exception.Message})", exception);
        }
        if (key is null || timestamp is null || !hasValue)
        {
            string missing = key is null ? "series_key" : timestamp is null ? "timestamp" : "value";
            throw ObservationErrors.AtLine(name, line, missing, "missing" + (missing == "value" ? " (null for a missing point)." : "."));
        }
        var utc = ObservationCsv.Timestamp(name, line, timestamp);
        return (key, new ObservationReading(utc.Ticks, value, line));
    }

    private static void Once(bool seen, string name, int line, string field)
    {
        if (seen)
        {
            throw ObservationErrors.AtLine(name, line, field, "appears twice.");
        }
    }

    private static InvalidDataException Expected(string name, int line, string field, string expected, Utf8JsonReader json) =>
        ObservationErrors.AtLine(name, line, field, $"expected {expected}, found {json.TokenType.ToString().ToLowerInvariant()}.");
}
