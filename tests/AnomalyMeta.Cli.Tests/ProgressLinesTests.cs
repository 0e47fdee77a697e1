using System.Globalization;
using System.Text.RegularExpressions;
using AnomalyMeta.Testing;

namespace AnomalyMeta.Cli.Tests;

/// <summary>
/// Long commands run with stderr redirected, as in CI or a script: their progress is plain lines on stderr (no bar, no
/// escape codes), and their stdout keeps the lines operators parse.
/// </summary>
public sealed partial class ProgressLinesTests : IAsyncLifetime
{
    private const int SeriesCount = 8;
    private const int Days = 15;
    private static readonly DateOnly FirstDay = new(2026, 11, 1);
    private readonly PostgresFixture _database = new();
    private readonly string _csv = Path.Combine(Path.GetTempPath(), $"anomalymeta-progress-{Guid.NewGuid():N}.csv");

    public Task InitializeAsync() => _database.InitializeAsync();

    public async Task DisposeAsync()
    {
        File.Delete(_csv);
        await _database.DisposeAsync();
    }

    private Dictionary<string, string> Environment() => new()
    {
        ["ConnectionStrings__Postgres"] = _database.ConnectionString,
        ["Scoring__BatchSize"] = "3",
    };

    [Fact]
    public async Task Ingest_cluster_train_and_score_print_plain_progress_lines_on_stderr_and_keep_their_output_lines()
    {
        await WriteFleetAsync();
        string lastDay = FirstDay.AddDays(Days - 2).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        string scoringDay = FirstDay.AddDays(Days - 1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        int readings = SeriesCount * Days * 24;

        // Staged in chunks of 1,000 readings: the writing stage reports each group of series written.
        var ingest = await RunAsync("ingest", _csv, "--chunk-readings", "1000");
        var cluster = await RunAsync("cluster", "--as-of", lastDay, "--days", "14");
        var train = await RunAsync("train", "--as-of", lastDay, "--iterations", "3");
        var score = await RunAsync("score", "--as-of", scoringDay);

        Assert.StartsWith($"Ingested {readings:N0} rows into {SeriesCount} series", ingest.Output, StringComparison.Ordinal);
        var writing = Lines(ingest.Error, "ingest: writing ");
        Assert.True(writing.Count >= 2, ingest.Error);
        Assert.Equal($"ingest: writing {readings:N0} of {readings:N0} readings (100%)", Prefix(writing[^1]));
        Assert.Matches(ProgressLine(), writing[0]);

        Assert.StartsWith($"Clustering 1: {SeriesCount} series", cluster.Output, StringComparison.Ordinal);
        Assert.Matches($"^cluster: profiling {SeriesCount} series", Assert.Single(Lines(cluster.Error, "cluster: ")));

        Assert.Contains("| cluster | model | series | season | meta-loss | seconds |", train.Output, StringComparison.Ordinal);
        var training = Lines(train.Error, "train: training ");
        Assert.Matches(@"^train: training 0 of (\d+) models \(0%\)$", training[0]);
        Assert.Matches(@"^train: training (\d+) of \1 models \(100%\), [\d,]+ models/s, done in [\d.]+ s$", training[^1]);

        Assert.Matches(@"^Run \d+: [\d,]+ series scored, [\d,]+ skipped, [\d,]+ anomalies", score.Output);
        var scoring = Lines(score.Error, "score: scoring ");
        // Three series a batch: three batches, each past a new tenth of the eight series, the last one done.
        Assert.Equal(3, scoring.Count);
        Assert.Equal($"score: scoring {SeriesCount} of {SeriesCount} series (100%)", Prefix(scoring[^1]));
        Assert.All(scoring, line => Assert.Matches(ProgressLine(), line));
        Assert.DoesNotContain('\u001b', ingest.Error + cluster.Error + train.Error + score.Error);
    }

    private async Task<CliProcess.Result> RunAsync(params string[] arguments)
    {
        var result = await CliProcess.RunAsync(Environment(), arguments);
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', arguments)}: exit {result.ExitCode}\n{result.Output}\n{result.Error}");
        return result;
    }

    private static List<string> Lines(string text, string prefix) =>
        [.. text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith(prefix, StringComparison.Ordinal))];

    /// <summary>The line up to its rate: what does not depend on the machine's speed.</summary>
    private static string Prefix(string line) => line.Split(", ")[0];

    [GeneratedRegex(@"^\w[\w ]*: \w+ [\d,]+ of [\d,]+ \w+ \(\d+%\)(, [\d,]+ \w+/s, (about \d+ (s|min) left|done in [\d.]+ s))?$")]
    private static partial Regex ProgressLine();

    /// <summary>Hourly series with a daily cycle and a little noise, one with a weekly one too.</summary>
    private async Task WriteFleetAsync()
    {
        var random = new Random(7);
        var lines = new List<string> { "series_key,timestamp,value" };
        var start = FirstDay.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        for (int s = 0; s < SeriesCount; s++)
        {
            for (int h = 0; h < Days * 24; h++)
            {
                double value = 100 + (s * 10) + (20 * Math.Sin(2 * Math.PI * h / 24)) + (s == 0 ? 15 * Math.Sin(2 * Math.PI * h / 168) : 0) + random.NextDouble();
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"s{s:D2},{start.AddHours(h):yyyy-MM-ddTHH:mm:ssZ},{value:F3}"));
            }
        }
        await File.WriteAllLinesAsync(_csv, lines);
    }
}
