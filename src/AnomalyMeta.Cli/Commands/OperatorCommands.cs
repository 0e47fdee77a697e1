using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Cli.Commands;

/// <summary>The operator's surfaces: tags, scoped rescores, feedback on flags, mutes.</summary>
internal static class OperatorCommands
{
    public static IEnumerable<Command> All()
    {
        yield return Tags();
        yield return Rescore();
        yield return Feedback();
        yield return Mute();
    }

    /// <summary>Who the ledger records for a command run by hand.</summary>
    private static string Who => $"cli:{Environment.UserName}";

    // Exact forms, as in observation files: a free parse would read 01/02/2026 as a month or a day depending on culture.
    private static readonly string[] TimestampFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ssK",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd'T'HH:mmK",
        "yyyy-MM-dd HH:mm:ssK",
        "yyyy-MM-dd",
    ];

    private static DateTimeOffset? ParseTimestamp(ArgumentResult result, string option)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (DateTimeOffset.TryParseExact(text, TimestampFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var ts))
        {
            return ts;
        }
        result.AddError($"{option}: '{text}' is not a date and time (ISO 8601, e.g. 2026-11-22T05:00:00Z; no zone means UTC).");
        return null;
    }

    private static DateOnly ParseDay(ArgumentResult result, string option)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            return day;
        }
        result.AddError($"{option}: '{text}' is not a date in yyyy-MM-dd form.");
        return default;
    }

    private static Command Tags()
    {
        var file = new Argument<FileInfo>("file") { Description = "CSV with the header series_key,key,value: each row sets one tag of one registered series." };
        var command = new Command("tags", "Merge a tag file into the series' tags (the given keys are set, the others kept); a bad line anywhere writes nothing.") { file };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var report = await host.Services.GetRequiredService<TagImport>().ImportAsync(parse.GetRequiredValue(file).FullName, cancellationToken);
            Console.WriteLine(Describe(report));
            return 0;
        });
        return command;
    }

    /// <summary>One line on what a tag merge did, shared by `tags` and `ingest --tags`.</summary>
    public static string Describe(TagMergeReport report) =>
        $"Tags: {report.Tags:N0} tags of {report.Series:N0} series merged, {report.SeriesChanged:N0} series changed.";

    private static Command Rescore()
    {
        var date = new Option<DateOnly>("--date") { Description = "Day to rescore (yyyy-MM-dd).", Required = true, CustomParser = r => ParseDay(r, "--date") };
        var series = new Option<string[]>("--series")
        {
            Description = $"Rescore these series (keys; at most {RunScope.MaxSeries}).",
            AllowMultipleArgumentsPerToken = true,
        };
        var tags = new Option<string[]>("--tag") { Description = "Rescore series carrying this tag (k=v; repeat for several, all must hold)." };
        var cluster = new Option<int?>("--cluster") { Description = "Rescore the series of this cluster of the live clustering." };
        var reason = new Option<string>("--reason") { Description = "Why (recorded in the run ledger).", Required = true };
        var command = new Command("rescore", "Rescore a day for some series (or every series without a scope): their flags of that day are replaced, nobody else's.")
        {
            date, series, tags, cluster, reason,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var scope = new RunScope(
                parse.GetValue(series) is { Length: > 0 } keys ? keys : null,
                parse.GetValue(tags) is { Length: > 0 } pairs ? ParseTags(pairs) : null,
                parse.GetValue(cluster));
            if (string.IsNullOrWhiteSpace(parse.GetValue(reason)))
            {
                throw new ArgumentException("--reason: a rescore needs a reason, it goes to the run ledger.");
            }
            using var host = CliHost.Build();
            var request = new ScoringRequest(RunKind.Rescore, parse.GetValue(date), Who, parse.GetValue(reason), Scope: scope.IsWholeFleet ? null : scope);
            var summary = await host.Services.GetRequiredService<MorningScoring>().RunAsync(request, cancellationToken);
            Console.WriteLine($"Run {summary.RunId} rescored {summary.AsOf:yyyy-MM-dd} for {scope}: {summary.SeriesScored:N0} series scored, "
                + $"{summary.SeriesSkipped:N0} skipped, {summary.AnomaliesWritten:N0} anomalies, {summary.Elapsed.TotalSeconds:F1} s");
            return summary.NoDataAtAll ? 3 : 0;
        });
        return command;
    }

    private static Dictionary<string, string> ParseTags(string[] pairs)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in pairs)
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new ArgumentException($"--tag: '{pair}' is not k=v.");
            }
            if (!tags.TryAdd(pair[..equals], pair[(equals + 1)..]))
            {
                throw new ArgumentException($"--tag: '{pair[..equals]}' is given twice.");
            }
        }
        return tags;
    }

    private static Command Feedback()
    {
        var series = new Option<string>("--series") { Description = "The flagged series' key.", Required = true };
        var ts = new Option<DateTimeOffset?>("--ts") { Description = "The flagged point's time (ISO 8601; no zone means UTC).", Required = true, CustomParser = r => ParseTimestamp(r, "--ts") };
        var asOf = new Option<DateOnly?>("--as-of") { Description = "The scoring day of the flag (default: the latest day that flagged the point).", CustomParser = r => ParseDay(r, "--as-of") };
        var verdict = new Option<string>("--verdict") { Description = "fp (a false positive) or confirmed.", Required = true, HelpName = "fp|confirmed" };
        verdict.AcceptOnlyFromAmong("fp", "false_positive", "confirmed");
        var note = new Option<string?>("--note") { Description = "Why, for whoever reads it later." };
        var command = new Command("feedback", "Mark a flag as a false positive or confirmed (recorded with who and when; the latest verdict on a flag wins).")
        {
            series, ts, asOf, verdict, note,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var given = parse.GetValue(verdict) == "confirmed" ? Verdict.Confirmed : Verdict.FalsePositive;
            var line = await host.Services.GetRequiredService<FeedbackStore>().RecordAsync(parse.GetRequiredValue(series), parse.GetValue(ts)!.Value,
                parse.GetValue(asOf), given, parse.GetValue(note), Who, cancellationToken);
            Console.WriteLine($"Flag of '{line.SeriesKey}' at {line.Ts:yyyy-MM-ddTHH:mm:ssZ} (scored {line.AsOf:yyyy-MM-dd}): {line.Verdict}, by {line.GivenBy}.");
            return 0;
        });
        return command;
    }

    private static Command Mute()
    {
        var series = new Option<string?>("--series") { Description = "The series to mute." };
        var from = new Option<DateTimeOffset?>("--from") { Description = "Start of the muted range (ISO 8601; default: open).", CustomParser = r => ParseTimestamp(r, "--from") };
        var to = new Option<DateTimeOffset?>("--to") { Description = "End of the muted range, excluded (default: open).", CustomParser = r => ParseTimestamp(r, "--to") };
        var reason = new Option<string?>("--reason") { Description = "Why (shown with the mute)." };
        var lift = new Option<long?>("--lift") { Description = "Lift the mute with this id instead (its flags are unmarked unless another mute covers them)." };
        var command = new Command("mute", "Mute a series, or a time range of it: its flags are still written, marked muted, and left out of alertable_anomaly.")
        {
            series, from, to, reason, lift,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var mutes = host.Services.GetRequiredService<MuteStore>();
            if (parse.GetValue(lift) is long muteId)
            {
                var lifted = await mutes.LiftAsync(muteId, cancellationToken);
                Console.WriteLine($"Mute {lifted.MuteId} of '{lifted.SeriesKey}' lifted: {lifted.FlagsMarked:N0} flags unmarked.");
                return 0;
            }
            string key = parse.GetValue(series) ?? throw new ArgumentException("mute: --series is required (or --lift ID).");
            var line = await mutes.MuteAsync(key, parse.GetValue(from), parse.GetValue(to),
                parse.GetValue(reason) ?? throw new ArgumentException("mute: --reason is required."), Who, cancellationToken);
            Console.WriteLine($"Mute {line.MuteId}: '{line.SeriesKey}' {Range(line)}; {line.FlagsMarked:N0} flags already written marked muted.");
            return 0;
        });
        return command;
    }

    private static string Range(MuteLine line) => (line.From, line.To) switch
    {
        (null, null) => "muted whole",
        (DateTime from, null) => $"muted from {from:yyyy-MM-ddTHH:mm:ssZ}",
        (null, DateTime to) => $"muted until {to:yyyy-MM-ddTHH:mm:ssZ}",
        (DateTime from, DateTime to) => $"muted from {from:yyyy-MM-ddTHH:mm:ssZ} to {to:yyyy-MM-ddTHH:mm:ssZ}",
    };
}
