using System.CommandLine;
using System.Text.Json;
using AnomalyMeta.Benchmarks.Evaluation.Nab;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Cli.Commands;

/// <summary>
/// `anomalymeta eval nab`: the product's own pipeline walked forward over a NAB-layout corpus in a throwaway database,
/// its per-row scores written as NAB result files and scored by the C# NAB scorer, at the service's threshold and at
/// the best one.
/// </summary>
internal static class EvalNabCommand
{
    /// <summary>A row is flagged by the service when its score reaches 0.5 (<see cref="Core.Detection.ResidualScorer.Score"/>).</summary>
    private const double ServiceThreshold = 0.5;

    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "NAB-layout directory: data/<category>/<name>.csv, labels/combined_windows.json, config/profiles.json.", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Where to write the result files (<category>/<name>.csv: timestamp,value,anomaly_score).", Required = true };
        var json = new Option<FileInfo?>("--json") { Description = "Write the figures as JSON to this file." };
        var defaults = new NabWalkOptions();
        var iterations = new Option<int>("--iterations") { Description = "Meta-iterations per cluster at each retraining.", DefaultValueFactory = _ => defaults.Iterations };
        var retrainDays = new Option<int>("--retrain-days") { Description = "Re-cluster and retrain every this many days.", DefaultValueFactory = _ => defaults.RetrainDays };
        var keep = new Option<bool>("--keep-database") { Description = "Keep the throwaway database afterwards (to look at it)." };
        var command = new Command("nab", "Walk the pipeline forward over a NAB corpus day by day and score it with NAB's profiles.")
        {
            data, output, json, iterations, retrainDays, keep,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(data)!, parse.GetValue(output)!, parse.GetValue(json),
            defaults with { Iterations = parse.GetValue(iterations), RetrainDays = parse.GetValue(retrainDays) }, parse.GetValue(keep), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(DirectoryInfo data, DirectoryInfo output, FileInfo? json, NabWalkOptions options, bool keep, CancellationToken cancellationToken)
    {
        if (options.Iterations < 1 || options.RetrainDays < 1)
        {
            throw new ArgumentException($"eval nab: --iterations and --retrain-days must be at least 1 (found {options.Iterations} and {options.RetrainDays}).");
        }
        var corpus = NabCorpus.Load(data.FullName);
        var builder = ThrowawayDatabase.Beside($"eval_nab_{Environment.ProcessId}");
        try
        {
            await ThrowawayDatabase.RecreateAsync(builder, cancellationToken);
            NabWalkResult walk;
            using (var host = CliHost.Build(builder.ConnectionString))
            {
                var nabWalk = ActivatorUtilities.CreateInstance<NabWalk>(host.Services);
                walk = await Terminal.WorkDisplay.RunAsync("eval nab", walked =>
                    nabWalk.RunAsync(corpus, options, new Progress<string>(line => Console.Error.WriteLine($"eval nab: {line}")), walked, cancellationToken));
            }

            foreach (var detections in walk.Detections)
            {
                var file = corpus[detections.RelativePath];
                string path = Path.Combine(output.FullName, file.Category, file.Name);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                NabResultFile.Write(path, file.Timestamps, file.Values, detections.Scores);
            }
            var report = new NabScorer(corpus).Evaluate(walk.Detections, ServiceThreshold);
            Console.WriteLine(EvalNabScoreCommand.Table("anomalymeta", corpus, report, ServiceThreshold));
            Console.WriteLine($"| walk | value |");
            Console.WriteLine($"| --- | --- |");
            Console.WriteLine($"| coverage (series-days scored / with data, after each series' first day) | {walk.Coverage:P2} ({walk.SeriesDaysScored:N0} / {walk.SeriesDaysWithData:N0}) |");
            Console.WriteLine($"| mornings walked | {walk.Mornings:N0} |");
            Console.WriteLine($"| re-clusterings and retrainings | {walk.Retrainings:N0} (every {options.RetrainDays} days, {options.Iterations} iterations per cluster) |");
            Console.WriteLine($"| walk time | {walk.Seconds:F1} s |");
            if (json is not null)
            {
                var figures = EvalNabScoreCommand.ToJson("anomalymeta", report);
                figures["coverage"] = walk.Coverage;
                figures["series_days_scored"] = walk.SeriesDaysScored;
                figures["series_days_with_data"] = walk.SeriesDaysWithData;
                figures["walk_seconds"] = walk.Seconds;
                figures["service_threshold"] = ServiceThreshold;
                await File.WriteAllTextAsync(json.FullName, figures.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
            }
            return 0;
        }
        finally
        {
            if (!keep)
            {
                await ThrowawayDatabase.DropAsync(builder, CancellationToken.None);
            }
        }
    }
}
