using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnomalyMeta.Benchmarks;

namespace AnomalyMeta.Cli.Commands;

/// <summary>`anomalymeta bench clusters`: MASE on M4 Hourly + Weekly, one meta-learner per cluster against one global learner.</summary>
internal static class ClustersBenchCommand
{
    public static Command Create()
    {
        var m4 = new Option<DirectoryInfo>("--m4") { Description = "Directory with the M4 Hourly and Weekly train and test files.", Required = true };
        var json = new Option<FileInfo?>("--json") { Description = "Write the results as JSON to this file." };
        var iterations = new Option<int>("--iterations") { Description = "Meta-training iterations over all per-cluster learners (the global learner gets the same).", DefaultValueFactory = _ => 3000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the learners and of the clustering.", DefaultValueFactory = _ => 1 };
        var aperiodicSeason = new Option<int>("--aperiodic-season") { Description = "Support K of aperiodic clusters (the scoring layer's default is 24).", DefaultValueFactory = _ => 24 };
        var innerSteps = new Option<int>("--inner-steps") { Description = "Inner SGD steps at forecast time (training draws 1..n).", DefaultValueFactory = _ => 3 };
        var command = new Command("clusters", "Forecast MASE on the M4 Hourly and Weekly test horizons: per-cluster meta-learners against one global meta-learner.")
        {
            m4, json, iterations, seed, aperiodicSeason, innerSteps,
        };
        command.SetAction(parse => Run(
            parse.GetValue(m4)!,
            new ClusterBenchmarkOptions
            {
                TotalIterations = parse.GetValue(iterations),
                Seed = parse.GetValue(seed),
                AperiodicSeason = parse.GetValue(aperiodicSeason),
                InnerSteps = parse.GetValue(innerSteps),
            },
            parse.GetValue(json)));
        return command;
    }

    private static int Run(DirectoryInfo m4, ClusterBenchmarkOptions options, FileInfo? json)
    {
        if (options.TotalIterations < 1 || options.AperiodicSeason < 2 || options.InnerSteps < 1)
        {
            throw new ArgumentException("--iterations and --inner-steps must be positive and --aperiodic-season at least 2.");
        }

        ClusterBenchmarkResult result = ClusterBenchmark.Run(m4.FullName, options, message => Console.Error.WriteLine($"bench clusters: {message}"));
        Console.WriteLine(Table(result));
        if (json is not null)
        {
            File.WriteAllText(json.FullName, ToJson(result).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        return 0;
    }

    private static string Table(ClusterBenchmarkResult result)
    {
        var culture = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine("Mean MASE on the M4 test horizons (Hourly 48 points, m = 24; Weekly 13 points, m = 1); seasonal naive is the M4 benchmark.");
        text.AppendLine();
        text.AppendLine("| Method | Hourly | Weekly | Combined |");
        text.AppendLine("|---|---|---|---|");
        foreach (string method in new[] { "per_cluster", "global", "seasonal_naive" })
        {
            text.Append(culture, $"| {method} |");
            foreach (string dataset in new[] { "Hourly", "Weekly", "Combined" })
            {
                MaseCell cell = result.Cells.First(c => c.Method == method && c.Dataset == dataset);
                text.Append(culture, $" {cell.Mase:F3} |");
            }

            text.AppendLine();
        }

        text.AppendLine();
        double gain = result.MaseGlobal > 0 ? 1 - (result.MasePerCluster / result.MaseGlobal) : 0;
        text.AppendLine(culture, $"Per-cluster MASE {result.MasePerCluster:F3} against global {result.MaseGlobal:F3}: {gain:P1} lower.");
        text.AppendLine();
        text.AppendLine("| Cluster | Periods | Hourly | Weekly | K | Iterations | Final meta-loss |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (ClusterRun run in result.Clusters)
        {
            text.AppendLine(culture, $"| {run.Id} | {run.PrimaryPeriod}/{run.SecondaryPeriod} | {run.HourlySeries} | {run.WeeklySeries} | {run.SupportSize} | {run.Iterations} | {run.FinalMetaLoss:F3} |");
        }

        text.AppendLine();
        text.AppendLine(culture, $"Training: {result.PerClusterTrainingSeconds:F0} s per-cluster learners, {result.GlobalTrainingSeconds:F0} s global; {result.ElapsedSeconds:F0} s in all.");
        return text.ToString();
    }

    private static JsonObject ToJson(ClusterBenchmarkResult result)
    {
        var cells = new JsonObject();
        foreach (MaseCell cell in result.Cells)
        {
            cells[$"{cell.Method}_{cell.Dataset.ToLowerInvariant()}"] = cell.Mase;
        }

        var clusters = new JsonArray();
        foreach (ClusterRun run in result.Clusters)
        {
            clusters.Add(new JsonObject
            {
                ["id"] = run.Id,
                ["primary_period"] = run.PrimaryPeriod,
                ["secondary_period"] = run.SecondaryPeriod,
                ["hourly_series"] = run.HourlySeries,
                ["weekly_series"] = run.WeeklySeries,
                ["support_size"] = run.SupportSize,
                ["iterations"] = run.Iterations,
                ["final_meta_loss"] = run.FinalMetaLoss,
            });
        }

        return new JsonObject
        {
            ["mase_per_cluster"] = result.MasePerCluster,
            ["mase_global"] = result.MaseGlobal,
            ["mase"] = cells,
            ["clusters"] = clusters,
            ["per_cluster_training_seconds"] = result.PerClusterTrainingSeconds,
            ["global_training_seconds"] = result.GlobalTrainingSeconds,
            ["elapsed_seconds"] = result.ElapsedSeconds,
        };
    }
}
