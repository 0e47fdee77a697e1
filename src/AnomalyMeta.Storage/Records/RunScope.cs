using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace AnomalyMeta.Storage.Records;

/// <summary>
/// What a scoped rescore rescores: series by key, series carrying every tag of <see cref="Tags"/>, series of cluster
/// <see cref="Cluster"/> in the live clustering. Every part given must hold (a series in the list and with the tags);
/// a part left null does not filter. No part at all is the whole fleet. Stored as JSON in <c>run.scope</c>.
/// </summary>
public sealed record RunScope(IReadOnlyList<string>? Series = null, IReadOnlyDictionary<string, string>? Tags = null, int? Cluster = null)
{
    /// <summary>Most series keys a scope lists: a longer list belongs in a tag (`anomalymeta tags`).</summary>
    public const int MaxSeries = 100;

    /// <summary>Most tags a scope filters on.</summary>
    public const int MaxTags = 10;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>No part given: the whole fleet.</summary>
    [JsonIgnore]
    public bool IsWholeFleet => Series is null && Tags is null && Cluster is null;

    /// <summary>What is wrong with the scope as asked (list sizes, keys, tags), or null when it can be resolved.</summary>
    public string? Problem()
    {
        if (Series is not null)
        {
            if (Series.Count == 0)
            {
                return "'series' is empty: leave it out to rescore every series.";
            }
            if (Series.Count > MaxSeries)
            {
                return $"'series' lists {Series.Count} keys; at most {MaxSeries} are accepted (tag a larger set and scope by tag).";
            }
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (string key in Series)
            {
                if (SeriesTagRules.SeriesKeyProblem(key) is string problem)
                {
                    return $"'series': {problem}";
                }
                if (!seen.Add(key))
                {
                    return $"'series' lists '{key}' twice.";
                }
            }
        }
        if (Tags is not null)
        {
            if (Tags.Count == 0)
            {
                return "'tags' is empty: leave it out to rescore every series.";
            }
            if (Tags.Count > MaxTags)
            {
                return $"'tags' has {Tags.Count} tags; at most {MaxTags} are accepted.";
            }
            foreach (var (key, value) in Tags)
            {
                if ((SeriesTagRules.KeyProblem(key) ?? SeriesTagRules.ValueProblem(value)) is string problem)
                {
                    return $"'tags': {problem}";
                }
            }
        }
        if (Cluster is < 0)
        {
            return $"'cluster' is {Cluster}; cluster ids start at 0.";
        }
        return null;
    }

    /// <summary>The scope as stored in <c>run.scope</c> (null for the whole fleet).</summary>
    public string? ToJson() => IsWholeFleet ? null : JsonSerializer.Serialize(this, Json);

    /// <summary>A stored scope (null: the whole fleet).</summary>
    public static RunScope? FromJson(string? json) =>
        json is null ? null : JsonSerializer.Deserialize<RunScope>(json, Json) ?? throw new InvalidDataException($"run.scope '{json}' is not a scope.");

    /// <summary>For people: "series a, b; tags region=eu; cluster 3", or "every series".</summary>
    public override string ToString()
    {
        if (IsWholeFleet)
        {
            return "every series";
        }
        var text = new StringBuilder();
        if (Series is not null)
        {
            text.Append("series ").AppendJoin(", ", Series);
        }
        if (Tags is not null)
        {
            text.Append(text.Length > 0 ? "; " : "").Append("tags ").AppendJoin(", ", Tags.Select(t => $"{t.Key}={t.Value}"));
        }
        if (Cluster is int cluster)
        {
            text.Append(text.Length > 0 ? "; " : "").Append("cluster ").Append(cluster.ToString(CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }
}

/// <summary>What a series key, a tag key and a tag value may be: checked at every edge (tag files, scopes, the API).</summary>
public static partial class SeriesTagRules
{
    /// <summary>Longest series key accepted (as for observation files).</summary>
    public const int MaxSeriesKeyLength = 200;

    /// <summary>Longest tag value accepted.</summary>
    public const int MaxValueLength = 200;

    /// <summary>The tag every ingest writes (the file a series came from); tag files may not set it.</summary>
    public const string SourceKey = "source";

    public static string? SeriesKeyProblem(string? key) =>
        string.IsNullOrEmpty(key) ? "a series key is empty."
        : key.Trim().Length != key.Length || key.Any(char.IsControl) || key.Length > MaxSeriesKeyLength
            ? $"series key '{Printable(key)}' has surrounding spaces, control characters or more than {MaxSeriesKeyLength} characters."
        : null;

    // A tag key never holds '=' (so `--tag k=v` splits at the first one) nor spaces: it is a name, not a sentence.
    public static string? KeyProblem(string? key) =>
        key is not null && TagKey().IsMatch(key) ? null
        : $"tag key '{Printable(key ?? "")}' is not 1 to 64 letters, digits, '.', '_', ':', '/' or '-' starting with a letter or digit.";

    public static string? ValueProblem(string? value) =>
        string.IsNullOrEmpty(value) ? "a tag value is empty."
        : value.Trim().Length != value.Length || value.Any(char.IsControl) || value.Length > MaxValueLength
            ? $"tag value '{Printable(value)}' has surrounding spaces, control characters or more than {MaxValueLength} characters."
        : null;

    /// <summary>Text as an error message can show it: control characters as \uXXXX, cut at 200 characters.</summary>
    public static string Printable(string text) =>
        string.Concat(text.Take(MaxSeriesKeyLength).Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex TagKey();
}
