using System.Globalization;
using System.Text;
using AnomalyMeta.Scoring.Ingest;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace AnomalyMeta.Scoring.Tests;

/// <summary>The CSV reader on any text: readings or the documented error (InvalidDataException), and exact round trips.</summary>
public sealed class ObservationCsvProperties : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("anomalymeta-csv-properties-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // The characters CSV and timestamps are made of, so random text hits quoting, field counts and dates, not only noise.
    private static readonly char[] Alphabet = "ab,\"\n\r 0123456789-:TZ.e+\t\u0001".ToCharArray();

    public static Arbitrary<string> CsvText() =>
        Gen.Elements(Alphabet).ArrayOf().Select(chars => new string(chars)).ToArbitrary();

    [Property(MaxTest = 400, Arbitrary = [typeof(ObservationCsvProperties)])]
    public bool Any_text_after_the_header_reads_or_fails_with_InvalidDataException(string body)
    {
        string path = Write("series_key,timestamp,value\n" + body);
        try
        {
            ObservationCsv.ReadReadings(path);
            return true;
        }
        catch (InvalidDataException exception)
        {
            // The documented error names the file.
            return exception.Message.Contains(Path.GetFileName(path), StringComparison.Ordinal);
        }
    }

    [Property(MaxTest = 200)]
    public bool Readings_round_trip_exactly(NonEmptyArray<(byte Series, ushort Minute, NormalFloat Value)> rows)
    {
        // One reading per (series, minute): repeated timestamps are aggregated, which is another property.
        var unique = rows.Get.DistinctBy(r => (r.Series % 5, r.Minute)).ToList();
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var text = new StringBuilder("series_key,timestamp,value\n");
        foreach (var (series, minute, value) in unique)
        {
            text.Append(CultureInfo.InvariantCulture, $"s{series % 5},{start.AddMinutes(minute):yyyy-MM-ddTHH:mm:ssZ},{((float)value.Get).ToString("R", CultureInfo.InvariantCulture)}\n");
        }

        var read = ObservationCsv.ReadReadings(Write(text.ToString()));

        return read.Rows == unique.Count && unique.All(r =>
            read.Series[$"s{r.Series % 5}"].Single(x => x.UtcTicks == start.AddMinutes(r.Minute).Ticks).Value == (float)r.Value.Get);
    }

    private string Write(string content)
    {
        string path = Path.Combine(_directory, $"{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, content);
        return path;
    }
}
