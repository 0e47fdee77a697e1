using AnomalyMeta.Scoring;
using System.Text.Json;

namespace AnomalyMeta.Benchmarks.Evaluation.Nab;

/// <summary>A labelled anomaly window of a NAB data file; both ends are timestamps of the file and belong to the window.</summary>
public sealed record NabWindow(DateTime Start, DateTime End);

/// <summary>
/// A NAB scoring profile: the weights of true positives, false positives and false negatives
/// (<c>config/profiles.json</c>, <c>CostMatrix</c>). NAB does not use the true-negative weight; it is kept for completeness.
/// </summary>
public sealed record NabProfile(string Name, double TruePositiveWeight, double FalsePositiveWeight, double FalseNegativeWeight, double TrueNegativeWeight = 1.0)
{
    /// <summary>NAB's standard profile.</summary>
    public static NabProfile Standard { get; } = new("standard", 1.0, 0.11, 1.0);

    /// <summary>NAB's profile that punishes false positives twice as much.</summary>
    public static NabProfile RewardLowFalsePositiveRate { get; } = new("reward_low_FP_rate", 1.0, 0.22, 1.0);

    /// <summary>NAB's profile that punishes missed windows twice as much.</summary>
    public static NabProfile RewardLowFalseNegativeRate { get; } = new("reward_low_FN_rate", 1.0, 0.11, 2.0);

    /// <summary>The three profiles of NAB's <c>config/profiles.json</c>, in its order.</summary>
    public static IReadOnlyList<NabProfile> All { get; } = [Standard, RewardLowFalsePositiveRate, RewardLowFalseNegativeRate];
}

/// <summary>
/// One NAB data file: its rows in file order and its label windows. <c>RelativePath</c> is the path under <c>data/</c>
/// with '/' separators, e.g. <c>realTweets/Twitter_volume_IBM.csv</c>, the key of the label file.
/// </summary>
public sealed record NabDataFile(string RelativePath, DateTime[] Timestamps, double[] Values, IReadOnlyList<NabWindow> Windows)
{
    /// <summary>The folder under <c>data/</c>, e.g. <c>realTweets</c>.</summary>
    public string Category => RelativePath.Contains('/', StringComparison.Ordinal) ? RelativePath[..RelativePath.LastIndexOf('/')] : "";

    /// <summary>The file name, e.g. <c>Twitter_volume_IBM.csv</c>.</summary>
    public string Name => RelativePath[(RelativePath.LastIndexOf('/') + 1)..];
}

/// <summary>
/// A corpus in NAB's layout: <c>data/&lt;category&gt;/&lt;file&gt;.csv</c> (<c>timestamp,value</c>), the windows of
/// <c>labels/combined_windows.json</c> keyed by <c>&lt;category&gt;/&lt;file&gt;.csv</c>, and the profiles of
/// <c>config/profiles.json</c>. Every window end must be a timestamp of its file, as NAB's labeler requires; a file
/// without labels or labels without a file are errors, so a corpus is always fully scoreable.
/// </summary>
public sealed class NabCorpus
{
    private readonly Dictionary<string, NabDataFile> _byPath;

    /// <summary>An in-memory corpus (tests, generated data); <paramref name="profiles"/> defaults to NAB's three.</summary>
    public NabCorpus(IEnumerable<NabDataFile> files, IEnumerable<NabProfile>? profiles = null)
        : this(files, profiles, "in-memory corpus")
    {
    }

    private NabCorpus(IEnumerable<NabDataFile> files, IEnumerable<NabProfile>? profiles, string labelSource)
    {
        Files = [.. files.OrderBy(f => f.RelativePath, StringComparer.Ordinal)];
        Profiles = [.. profiles ?? NabProfile.All];
        _byPath = new Dictionary<string, NabDataFile>(StringComparer.Ordinal);
        foreach (var file in Files)
        {
            if (!_byPath.TryAdd(file.RelativePath, file))
            {
                throw new InvalidDataException($"{labelSource}: '{file.RelativePath}' appears twice.");
            }
            Validate(file, labelSource);
        }
    }

    /// <summary>The data files ordered by relative path.</summary>
    public IReadOnlyList<NabDataFile> Files { get; }

    public IReadOnlyList<NabProfile> Profiles { get; }

    /// <summary>The distinct categories, ordered.</summary>
    public IReadOnlyList<string> Categories => [.. Files.Select(f => f.Category).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>The file with this relative path (the key of the label file), or an error naming it.</summary>
    public NabDataFile this[string relativePath] =>
        _byPath.TryGetValue(relativePath, out var file)
            ? file
            : throw new InvalidDataException($"'{relativePath}' is not a file of the corpus (expected a path like 'realTweets/Twitter_volume_IBM.csv').");

    public bool Contains(string relativePath) => _byPath.ContainsKey(relativePath);

    public NabProfile Profile(string name) =>
        Profiles.FirstOrDefault(p => p.Name == name)
        ?? throw new ArgumentException($"No profile '{name}'; the corpus has {string.Join(", ", Profiles.Select(p => p.Name))}.", nameof(name));

    /// <summary>
    /// Reads <paramref name="directory"/> laid out like NAB's repository; <paramref name="labelsPath"/> and
    /// <paramref name="profilesPath"/> default to <c>labels/combined_windows.json</c> and <c>config/profiles.json</c> in it.
    /// </summary>
    public static NabCorpus Load(string directory, string? labelsPath = null, string? profilesPath = null)
    {
        string dataDirectory = Path.Combine(directory, "data");
        if (!Directory.Exists(dataDirectory))
        {
            throw new DirectoryNotFoundException($"{directory}: no 'data' folder; expected NAB's layout data/<category>/<file>.csv.");
        }
        labelsPath ??= Path.Combine(directory, "labels", "combined_windows.json");
        profilesPath ??= Path.Combine(directory, "config", "profiles.json");
        var windows = ReadWindows(labelsPath);
        var profiles = ReadProfiles(profilesPath);
        string labelsName = Path.GetFileName(labelsPath);

        var files = new List<NabDataFile>();
        foreach (string path in Directory.EnumerateFiles(dataDirectory, "*.csv", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string relativePath = Path.GetRelativePath(dataDirectory, path).Replace('\\', '/');
            if (!windows.Remove(relativePath, out var fileWindows))
            {
                throw new InvalidDataException($"{labelsName}: no entry for the data file '{relativePath}'.");
            }
            var (timestamps, values) = ReadData(path, relativePath);
            files.Add(new NabDataFile(relativePath, timestamps, values, fileWindows));
        }
        if (windows.Count > 0)
        {
            throw new InvalidDataException($"{labelsName}: '{windows.Keys.First()}' has no data file under {dataDirectory}.");
        }
        if (files.Count == 0)
        {
            throw new InvalidDataException($"{dataDirectory}: no .csv files.");
        }
        return new NabCorpus(files, profiles, labelsName);
    }

    private static (DateTime[] Timestamps, double[] Values) ReadData(string path, string relativePath)
    {
        string name = "data/" + relativePath;
        var timestamps = new List<DateTime>();
        var values = new List<double>();
        using var csv = NabCsv.Open(path);
        int[] index = NabCsv.Columns(csv, name, "timestamp", "value");
        while (NabCsv.Guarded(name, csv.Read))
        {
            var timestamp = NabCsv.Timestamp(csv, index[0], name);
            if (timestamps.Count > 0 && timestamp < timestamps[^1])
            {
                // Windows are located by timestamp, so time must not go back. A repeated timestamp is allowed: NAB's own
                // data has a few, and a window end then means its first occurrence, as in NAB.
                throw new InvalidDataException($"{name} line {csv.LineNumber}, field 'timestamp': {NabCsv.Format(timestamp)} is before {NabCsv.Format(timestamps[^1])} on the line above.");
            }
            timestamps.Add(timestamp);
            values.Add(NabCsv.Number(csv, index[1], name));
        }
        if (timestamps.Count == 0)
        {
            throw new InvalidDataException($"{name}: no rows after the header.");
        }
        return ([.. timestamps], [.. values]);
    }

    private static Dictionary<string, IReadOnlyList<NabWindow>> ReadWindows(string path)
    {
        string name = Path.GetFileName(path);
        using var document = ParseJson(path);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{name}: expected an object keyed by '<category>/<file>.csv'.");
        }
        var windows = new Dictionary<string, IReadOnlyList<NabWindow>>(StringComparer.Ordinal);
        foreach (var entry in document.RootElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"{name}, '{entry.Name}': expected a list of [start, end] pairs.");
            }
            var list = new List<NabWindow>();
            foreach (var pair in entry.Value.EnumerateArray())
            {
                int number = list.Count + 1;
                if (pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2)
                {
                    throw new InvalidDataException($"{name}, '{entry.Name}' window {number}: expected a [start, end] pair.");
                }
                var start = WindowEnd(pair[0], name, entry.Name, number, "start");
                var end = WindowEnd(pair[1], name, entry.Name, number, "end");
                list.Add(new NabWindow(start, end));
            }
            windows[entry.Name] = list;
        }
        return windows;
    }

    private static DateTime WindowEnd(JsonElement element, string name, string key, int number, string which)
    {
        string? text = element.ValueKind == JsonValueKind.String ? element.GetString() : null;
        if (text is null || !NabCsv.TryParseTimestamp(text, out var timestamp))
        {
            throw new InvalidDataException($"{name}, '{key}' window {number}: {which} {element.GetRawText()} is not a timestamp (expected {NabCsv.TimestampFormat}).");
        }
        return timestamp;
    }

    private static List<NabProfile> ReadProfiles(string path)
    {
        string name = Path.GetFileName(path);
        using var document = ParseJson(path);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{name}: expected an object keyed by profile name.");
        }
        var profiles = new List<NabProfile>();
        foreach (var entry in document.RootElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Object || !entry.Value.TryGetProperty("CostMatrix", out var matrix) || matrix.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{name}, profile '{entry.Name}': no 'CostMatrix' object.");
            }
            double Weight(string field, bool required)
            {
                if (!matrix.TryGetProperty(field, out var value))
                {
                    return required ? throw new InvalidDataException($"{name}, profile '{entry.Name}': no 'CostMatrix.{field}'.") : 1.0;
                }
                if (value.ValueKind != JsonValueKind.Number || !double.IsFinite(value.GetDouble()) || value.GetDouble() < 0)
                {
                    throw new InvalidDataException($"{name}, profile '{entry.Name}', 'CostMatrix.{field}': {value.GetRawText()} is not a non-negative number.");
                }
                return value.GetDouble();
            }
            profiles.Add(new NabProfile(entry.Name, Weight("tpWeight", true), Weight("fpWeight", true), Weight("fnWeight", true), Weight("tnWeight", false)));
        }
        if (profiles.Count == 0)
        {
            throw new InvalidDataException($"{name}: no profiles.");
        }
        return profiles;
    }

    private static JsonDocument ParseJson(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file.", path);
        }
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException exception)
        {
            throw new InvalidDataException($"{Path.GetFileName(path)} line {exception.LineNumber + 1}: malformed JSON ({exception.Message})", exception);
        }
    }

    /// <summary>Rows in time order; windows in time order, not overlapping, each end a timestamp of the file (NAB finds them by exact match).</summary>
    private static void Validate(NabDataFile file, string labelSource)
    {
        if (file.Timestamps.Length != file.Values.Length)
        {
            throw new InvalidDataException($"{file.RelativePath}: {file.Timestamps.Length} timestamps but {file.Values.Length} values.");
        }
        for (int i = 1; i < file.Timestamps.Length; i++)
        {
            if (file.Timestamps[i] < file.Timestamps[i - 1])
            {
                throw new InvalidDataException($"{file.RelativePath} row {i + 1}: timestamp {NabCsv.Format(file.Timestamps[i])} is before {NabCsv.Format(file.Timestamps[i - 1])} of the row above.");
            }
        }
        DateTime? previousEnd = null;
        for (int w = 0; w < file.Windows.Count; w++)
        {
            var window = file.Windows[w];
            foreach (var (which, timestamp) in new[] { ("start", window.Start), ("end", window.End) })
            {
                if (Array.BinarySearch(file.Timestamps, timestamp) < 0)
                {
                    throw new InvalidDataException($"{labelSource}, '{file.RelativePath}' window {w + 1}: {which} {NabCsv.Format(timestamp)} is not a timestamp of the data file.");
                }
            }
            if (window.End < window.Start || (previousEnd is { } end && window.Start <= end))
            {
                throw new InvalidDataException($"{labelSource}, '{file.RelativePath}' window {w + 1}: [{NabCsv.Format(window.Start)}, {NabCsv.Format(window.End)}] is reversed or overlaps the window before it.");
            }
            previousEnd = window.End;
        }
    }
}
