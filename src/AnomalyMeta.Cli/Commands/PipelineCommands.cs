using System.CommandLine;
using System.Globalization;
using AnomalyMeta.Cli.Terminal;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Cli.Commands;

/// <summary>The operator's commands on the configured database: migrate, cluster, train, score.</summary>
internal static class PipelineCommands
{
    public static IEnumerable<Command> All()
    {
        yield return Migrate();
        yield return Ingest();
        yield return IngestStagingCommand.Create();
        yield return Cluster();
        yield return Train();
        yield return Score();
        yield return PlotCommand.Create();
        foreach (var command in OperatorCommands.All())
        {
            yield return command;
        }
    }

    private static Option<DateOnly> AsOfOption(string description) => new("--as-of")
    {
        Description = description + " (yyyy-MM-dd; default: yesterday, UTC).",
        DefaultValueFactory = _ => DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-1),
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            {
                return day;
            }
            result.AddError($"--as-of: '{text}' is not a date in yyyy-MM-dd form.");
            return default;
        },
    };

    private static Command Migrate()
    {
        var command = new Command("migrate", "Apply the SQL migrations of db/ to the configured database.");
        command.SetAction(_ =>
        {
            var applied = DatabaseMigrator.Migrate(CliHost.ConnectionString(), DatabaseMigrator.FindMigrationsDirectory());
            Console.WriteLine(applied.Count == 0
                ? "Database is up to date: no migration to apply."
                : $"Applied {string.Join(", ", applied)}; database is up to date.");
            return 0;
        });
        return command;
    }

    private static Command Ingest()
    {
        var file = new Argument<FileInfo>("file") { Description = "CSV with the header series_key,timestamp,value (UTC timestamps; empty value = missing point)." };
        var step = new Option<int?>("--step-seconds")
        {
            Description = "Sampling step of the series in the file (divides 86400). Default: inferred per series from the timestamps; a registered series keeps its step.",
        };
        var aggregate = new Option<ObservationAggregate>("--aggregate")
        {
            HelpName = "mean|sum|min|max|last|first",
            Description = "How readings of one step slot (off-grid or repeated timestamps) are combined: mean, sum, min, max, last or first.",
            DefaultValueFactory = _ => ObservationAggregate.Mean,
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                // Names only: Enum.TryParse would also take "3" or "Mean,Max".
                foreach (var value in Enum.GetValues<ObservationAggregate>())
                {
                    if (string.Equals(text, value.ToString(), StringComparison.OrdinalIgnoreCase))
                    {
                        return value;
                    }
                }
                result.AddError($"--aggregate: '{text}' is not one of mean, sum, min, max, last, first.");
                return default;
            },
        };
        var replaceDays = new Option<bool>("--replace-days") { Description = "Replace the stored days the file touches whole, instead of merging the points it carries." };
        var timeZone = new Option<string?>("--time-zone") { Description = "IANA time zone whose clock the file's series follow (daily and weekly phases in local time; timestamps stay UTC). Default: UTC for new series." };
        var chunk = new Option<int>("--chunk-readings")
        {
            Description = "Readings held in memory at once: a larger file is staged in PostgreSQL and written this many readings at a time, still in one transaction.",
            DefaultValueFactory = _ => new CsvIngestOptions().ChunkReadings,
        };
        var tags = new Option<FileInfo?>("--tags") { Description = "A tag file (series_key,key,value) merged into the series' tags in the same transaction." };
        var command = new Command("ingest", "Load observations from a CSV file in one transaction: a bad line anywhere writes nothing; merged into stored days.")
        {
            file, step, aggregate, replaceDays, timeZone, chunk, tags,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var options = new CsvIngestOptions
            {
                StepSeconds = parse.GetValue(step),
                Aggregate = parse.GetValue(aggregate),
                ReplaceDays = parse.GetValue(replaceDays),
                TimeZone = parse.GetValue(timeZone),
                ChunkReadings = parse.GetValue(chunk),
                TagsPath = parse.GetValue(tags)?.FullName,
            };
            var report = await WorkDisplay.RunAsync("ingest", progress =>
                host.Services.GetRequiredService<CsvIngest>().IngestAsync(parse.GetRequiredValue(file).FullName, options, progress, cancellationToken));
            Console.WriteLine($"Ingested {report.Rows:N0} rows into {report.Series:N0} series: {report.DayRows:N0} day rows {(options.ReplaceDays ? "replaced" : "merged")}; "
                + $"points aggregated (slots with more than one value): {report.AggregatedPoints:N0}; rows rejected: {report.RowsRejected:N0}.");
            PrintSteps(report.Steps);
            if (report.Tags is not null)
            {
                Console.WriteLine(OperatorCommands.Describe(report.Tags));
            }
            return 0;
        });
        return command;
    }

    private static void PrintSteps(IReadOnlyList<SeriesStep> steps)
    {
        var groups = steps.GroupBy(s => (s.StepSeconds, s.Source)).OrderBy(g => g.Key.StepSeconds).ThenBy(g => g.Key.Source).ToList();
        if (groups.Count == 1)
        {
            Console.WriteLine($"Step: {groups[0].Key.StepSeconds} s ({Source(groups[0].Key.Source)})");
        }
        else
        {
            Console.WriteLine("Steps: " + string.Join("; ", groups.Select(g => $"{g.Key.StepSeconds} s ({Source(g.Key.Source)}) for {g.Count():N0} series")));
        }
        const int MaxLines = 10;
        var onto = steps.Where(s => s.OntoRegisteredStep).ToList();
        foreach (var s in onto.Take(MaxLines))
        {
            Console.WriteLine($"Series '{s.SeriesKey}' keeps its registered step of {s.StepSeconds} s; the file's spacing suggests {s.InferredStepSeconds} s, so its readings were aggregated onto {s.StepSeconds} s.");
        }
        if (onto.Count > MaxLines)
        {
            Console.WriteLine($"... and {onto.Count - MaxLines:N0} more series aggregated onto their registered step.");
        }
    }

    private static string Source(StepSource source) => source switch
    {
        StepSource.Given => "given",
        StepSource.Inferred => "inferred",
        _ => "registered",
    };

    private static Command Cluster()
    {
        var asOf = AsOfOption("Last day of history to read");
        var days = new Option<int>("--days") { Description = "Days of history to read.", DefaultValueFactory = _ => new TrainingOptions().HistoryDays };
        var assignOnly = new Option<bool>("--assign-new") { Description = "Only assign series the latest clustering does not know yet." };
        var command = new Command("cluster", "Detect periods, cluster the series in PostgreSQL and print cluster sizes and periods.") { asOf, days, assignOnly };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var step = host.Services.GetRequiredService<ClusteringStep>();
            if (parse.GetValue(assignOnly))
            {
                int assigned = await step.AssignNewAsync(parse.GetValue(asOf), parse.GetValue(days), cancellationToken);
                Console.WriteLine($"Assigned {assigned} new series to the latest clustering.");
                return 0;
            }
            var report = await WorkDisplay.RunAsync("cluster", progress => step.RunAsync(parse.GetValue(asOf), parse.GetValue(days), progress, cancellationToken));
            Console.WriteLine($"Clustering {report.Version}: {report.SeriesCount:N0} series, {report.Clusters.Count} clusters, "
                + $"{(report.MovedCount is int moved ? $"{moved:N0} moved since the previous clustering" : "first clustering")}, {report.Seconds:F1} s");
            if (report.Phases is { } phases)
            {
                Console.WriteLine($"Seconds: read wait {phases.ReadWait:F1}, periods and features {phases.Profile:F1}, fit and assign {phases.Fit:F1}, save {phases.Save:F1}");
            }
            Console.WriteLine("| cluster | series | primary period | secondary period |");
            Console.WriteLine("| --- | --- | --- | --- |");
            foreach (var cluster in report.Clusters)
            {
                Console.WriteLine($"| {cluster.ClusterId} | {cluster.SeriesCount:N0} | {cluster.PrimaryPeriod?.ToString(CultureInfo.InvariantCulture) ?? "none"} | {cluster.SecondaryPeriod?.ToString(CultureInfo.InvariantCulture) ?? "none"} |");
            }
            return 0;
        });
        return command;
    }

    private static Command Train()
    {
        var asOf = AsOfOption("Last day of history to train on");
        var iterations = new Option<int>("--iterations") { Description = "Meta-iterations per cluster.", DefaultValueFactory = _ => new TrainingOptions().Iterations };
        var command = new Command("train", "Train one meta-learner per cluster of the latest clustering and store them.") { asOf, iterations };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var trained = await WorkDisplay.RunAsync("train", progress => host.Services.GetRequiredService<MetaTrainingStep>().TrainAsync(parse.GetValue(asOf),
                new TrainingOptions { Iterations = parse.GetValue(iterations) }, onlyClusters: null, progress, cancellationToken));
            Console.WriteLine("| cluster | model | series | season | meta-loss | seconds |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
            foreach (var t in trained.Trained)
            {
                Console.WriteLine($"| {t.ClusterId} | {t.ModelId} | {t.SeriesUsed:N0} | {t.SeasonLength} | {t.MetaLoss:F4} | {t.Seconds:F1} |");
            }
            foreach (var g in trained.Generic)
            {
                Console.WriteLine($"| generic, step {g.StepSeconds} s | {g.ModelId} | generated | {g.SeasonLength} | {g.MetaLoss:F4} | {g.Seconds:F1} |");
            }
            foreach (var skipped in trained.Skipped)
            {
                Console.WriteLine($"Cluster {skipped.ClusterId} not trained: {skipped.Reason}; its series are scored by the generic model of their step.");
            }
            if (trained.LiveClustering is int live)
            {
                Console.WriteLine($"Clustering {live} is live: the next run scores with it.");
            }
            return 0;
        });
        return command;
    }

    private static Command Score()
    {
        var asOf = AsOfOption("Day to score");
        var rescore = new Option<string?>("--rescore") { Description = "Rescore the day, giving the reason (recorded in the run ledger)." };
        var command = new Command("score", "Run the morning scoring now for one day (nightly, idempotent by date; or a rescore).") { asOf, rescore };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            string? reason = parse.GetValue(rescore);
            var request = new ScoringRequest(reason is null ? RunKind.Nightly : RunKind.Rescore, parse.GetValue(asOf),
                $"cli:{Environment.UserName}", reason);
            var summary = await WorkDisplay.RunAsync("score", progress => host.Services.GetRequiredService<MorningScoring>().RunAsync(request, progress, cancellationToken));
            Console.WriteLine(summary.AlreadyDone
                ? $"Nightly run {summary.RunId} for {summary.AsOf:yyyy-MM-dd} had already succeeded: nothing done."
                : $"Run {summary.RunId}: {summary.SeriesScored:N0} series scored, {summary.SeriesSkipped:N0} skipped, {summary.AnomaliesWritten:N0} anomalies, {summary.Elapsed.TotalSeconds:F1} s");
            if (summary.MostlyWithoutData)
            {
                Console.Error.WriteLine($"Warning: {summary.SeriesNoData:N0} of {summary.SeriesTotal:N0} series had no data for {summary.AsOf:yyyy-MM-dd}. "
                    + "If the day's feed is late, run `score` for the date again once it is in: it scores those series and nothing else.");
            }
            // Exit 3 when nothing at all could be scored: a cron must not take an empty night for a quiet one.
            return summary.NoDataAtAll ? 3 : 0;
        });
        return command;
    }
}
