using AnomalyMeta.Scoring;
using System.Globalization;
using System.Text;

namespace AnomalyMeta.Benchmarks.Evaluation.Nab;

/// <summary>
/// A detector's anomaly scores for one NAB data file, one per row of the file, in its order, with the rows' timestamps.
/// <c>RelativePath</c> is the data file's key in the label file, e.g. <c>realTweets/Twitter_volume_IBM.csv</c>.
/// </summary>
public sealed record NabDetections(string RelativePath, DateTime[] Timestamps, double[] Scores);

/// <summary>
/// NAB's detector result files: <c>&lt;results&gt;/&lt;category&gt;/&lt;detector&gt;_&lt;file&gt;.csv</c> with the columns
/// <c>timestamp,value,anomaly_score</c>. Reading ignores any further columns (NAB appends label and per-profile score
/// columns); writing produces exactly those three.
/// </summary>
public static class NabResultFile
{
    /// <summary>Where NAB keeps the result of <paramref name="detector"/> for a data file, relative to the detector's folder.</summary>
    public static string RelativeResultPath(string detector, string relativeDataPath)
    {
        int slash = relativeDataPath.LastIndexOf('/');
        return slash < 0
            ? $"{detector}_{relativeDataPath}"
            : $"{relativeDataPath[..slash]}/{detector}_{relativeDataPath[(slash + 1)..]}";
    }

    /// <summary>Reads the scores of one result file; <paramref name="relativeDataPath"/> names the data file they belong to.</summary>
    public static NabDetections Read(string path, string relativeDataPath)
    {
        string name = Path.GetFileName(path);
        var timestamps = new List<DateTime>();
        var scores = new List<double>();
        using var csv = NabCsv.Open(path);
        int[] index = NabCsv.Columns(csv, name, "timestamp", "anomaly_score");
        while (NabCsv.Guarded(name, csv.Read))
        {
            timestamps.Add(NabCsv.Timestamp(csv, index[0], name));
            scores.Add(NabCsv.Number(csv, index[1], name));
        }
        return new NabDetections(relativeDataPath, [.. timestamps], [.. scores]);
    }

    /// <summary>
    /// Reads the result of <paramref name="detector"/> for every file of <paramref name="corpus"/> from
    /// <paramref name="detectorDirectory"/> (e.g. NAB's <c>results/numenta</c>); a missing file is an error, because
    /// normalisation is over the whole corpus.
    /// </summary>
    public static IReadOnlyList<NabDetections> ReadAll(string detectorDirectory, string detector, NabCorpus corpus)
    {
        if (!Directory.Exists(detectorDirectory))
        {
            throw new DirectoryNotFoundException($"{detectorDirectory}: results directory not found.");
        }
        var detections = new List<NabDetections>(corpus.Files.Count);
        foreach (var file in corpus.Files)
        {
            string path = Path.Combine(detectorDirectory, RelativeResultPath(detector, file.RelativePath));
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{path}: no result of detector '{detector}' for the data file '{file.RelativePath}'.", path);
            }
            detections.Add(Read(path, file.RelativePath));
        }
        return detections;
    }

    /// <summary>Writes one result file, creating its folder.</summary>
    public static void Write(string path, IReadOnlyList<DateTime> timestamps, IReadOnlyList<double> values, IReadOnlyList<double> scores)
    {
        if (timestamps.Count != values.Count || timestamps.Count != scores.Count)
        {
            throw new ArgumentException($"{path}: {timestamps.Count} timestamps, {values.Count} values and {scores.Count} scores; expected one of each per row.");
        }
        string? folder = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
        var culture = CultureInfo.InvariantCulture;
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        writer.NewLine = "\n";
        writer.WriteLine("timestamp,value,anomaly_score");
        for (int i = 0; i < timestamps.Count; i++)
        {
            // "R" round-trips the doubles, so a written file scores exactly like the detections it came from.
            writer.WriteLine($"{NabCsv.Format(timestamps[i])},{values[i].ToString("R", culture)},{scores[i].ToString("R", culture)}");
        }
    }

    /// <summary>
    /// Writes <paramref name="detections"/> in NAB's layout under <paramref name="detectorDirectory"/>, taking the values
    /// from the corpus, and returns the paths written.
    /// </summary>
    public static IReadOnlyList<string> WriteAll(string detectorDirectory, string detector, NabCorpus corpus, IEnumerable<NabDetections> detections)
    {
        var written = new List<string>();
        foreach (var detection in detections)
        {
            var file = corpus[detection.RelativePath];
            if (detection.Scores.Length != file.Values.Length || detection.Timestamps.Length != file.Values.Length)
            {
                throw new ArgumentException($"{detection.RelativePath}: {detection.Timestamps.Length} timestamps and {detection.Scores.Length} scores for {file.Values.Length} rows.", nameof(detections));
            }
            string path = Path.Combine(detectorDirectory, RelativeResultPath(detector, detection.RelativePath));
            Write(path, detection.Timestamps, file.Values, detection.Scores);
            written.Add(path);
        }
        return written;
    }
}
