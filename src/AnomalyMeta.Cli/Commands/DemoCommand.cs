using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Benchmarks.Evaluation;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Quartz;

namespace AnomalyMeta.Cli.Commands;

/// <summary>
/// `anomalymeta demo`: the mission end to end on generated data, in a database of its own that it recreates:
/// ingest → periods and clusters → one meta-learner per cluster → the morning job through Quartz → evaluation.
/// </summary>
internal static class DemoCommand
{
    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    public static Command Create()
    {
        var series = new Option<int>("--series") { Description = "Series to generate.", DefaultValueFactory = _ => 10_000 };
        var days = new Option<int>("--days") { Description = "Days of history before the scoring day.", DefaultValueFactory = _ => 28 };
        var seed = new Option<int>("--seed") { Description = "Seed of the generated fleet.", DefaultValueFactory = _ => 42 };
        var iterations = new Option<int>("--iterations") { Description = "Meta-training iterations per cluster.", DefaultValueFactory = _ => new TrainingOptions().Iterations };
        var json = new Option<FileInfo?>("--json") { Description = "Write the figures as JSON to this file." };
        var database = new Option<string?>("--database") { Description = "Database to recreate for the demo (default: the configured one's name + _demo)." };
        var command = new Command("demo", "Run the whole pipeline on generated hourly series and evaluate it against the injected anomalies.")
        {
            series, days, seed, iterations, json, database,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(
            new SyntheticFleetOptions { SeriesCount = parse.GetValue(series), HistoryDays = parse.GetValue(days), Seed = parse.GetValue(seed) },
            parse.GetValue(iterations), parse.GetValue(json), parse.GetValue(database), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(SyntheticFleetOptions fleet, int iterations, FileInfo? json, string? database, CancellationToken cancellationToken)
    {
        // Two weeks is the least that shows a weekly period twice; the detector needs it to find 168.
        if (fleet.SeriesCount < 1 || fleet.HistoryDays < 14 || iterations < 1)
        {
            throw new ArgumentException($"demo: --series must be at least 1 (found {fleet.SeriesCount}), --days at least 14 (found {fleet.HistoryDays}), --iterations at least 1 (found {iterations}).");
        }
        var phases = new List<(string Name, double Seconds)>();
        var total = Stopwatch.StartNew();
        var clock = Stopwatch.StartNew();
        void Phase(string name)
        {
            phases.Add((name, clock.Elapsed.TotalSeconds));
            Console.Error.WriteLine($"demo: {name} done in {clock.Elapsed.TotalSeconds:F1} s");
            clock.Restart();
        }

        string connectionString = await RecreateDemoDatabaseAsync(database, cancellationToken);
        Phase("database");

        using var host = CliHost.Build(connectionString, withScheduler: true);
        var services = host.Services;
        var generator = new SyntheticSeriesGenerator(fleet);
        long dayRows = await services.GetRequiredService<SyntheticFleetIngest>().IngestAsync(generator, cancellationToken);
        Phase("generate and ingest");

        var lastHistoryDay = fleet.ScoringDay.AddDays(-1);
        var training = services.GetRequiredService<TrainingOptions>();
        training.Iterations = iterations;
        training.HistoryDays = fleet.HistoryDays;
        var clustering = await services.GetRequiredService<ClusteringStep>().RunAsync(lastHistoryDay, training.HistoryDays, cancellationToken);
        Phase("periods and clusters");

        var trained = await services.GetRequiredService<MetaTrainingStep>().TrainAsync(lastHistoryDay, training, cancellationToken);
        Phase("meta-training");

        await host.StartAsync(cancellationToken);
        var summary = await OnDemandRun.RunAsync(services.GetRequiredService<ISchedulerFactory>(),
            new ScoringRequest(RunKind.Nightly, fleet.ScoringDay, "anomalymeta demo"), cancellationToken);
        await host.StopAsync(cancellationToken);
        Phase("morning job (Quartz)");

        var flagged = await services.GetRequiredService<AnomalyQueries>().FlaggedOnAsync(fleet.ScoringDay, cancellationToken);
        var evaluation = SyntheticEvaluation.Evaluate(generator, flagged);
        var metrics = evaluation.Overall;
        Phase("evaluation");

        Console.WriteLine();
        Console.WriteLine($"| figure | value |");
        Console.WriteLine($"| --- | --- |");
        Console.WriteLine($"| series generated | {fleet.SeriesCount:N0} ({dayRows:N0} day rows) |");
        Console.WriteLine($"| clusters | {clustering.Clusters.Count} (clustering version {clustering.Version}) |");
        foreach (var cluster in clustering.Clusters)
        {
            var model = trained.Trained.FirstOrDefault(t => t.ClusterId == cluster.ClusterId);
            Console.WriteLine($"| cluster {cluster.ClusterId} | {cluster.SeriesCount:N0} series, period {cluster.PrimaryPeriod?.ToString() ?? "none"}/{cluster.SecondaryPeriod?.ToString() ?? "-"}, "
                + (model is null ? "no model" : $"season {model.SeasonLength}, meta-loss {model.MetaLoss:F3}, {model.Seconds:F1} s") + " |");
        }
        Console.WriteLine($"| run | {summary.RunId} for {summary.AsOf:yyyy-MM-dd} |");
        Console.WriteLine($"| series scored | {summary.SeriesScored:N0} ({summary.SeriesSkipped:N0} skipped) |");
        Console.WriteLine($"| anomalies written | {summary.AnomaliesWritten:N0} |");
        Console.WriteLine($"| precision (delay protocol, {SyntheticEvaluation.Delay} points) | {metrics.Precision:F3} |");
        Console.WriteLine($"| recall | {metrics.Recall:F3} |");
        Console.WriteLine($"| F1 | {metrics.F1:F3} |");
        Console.WriteLine($"| point-wise precision / recall / F1 (every anomalous point must be flagged) | {evaluation.PointWise.Precision:F3} / {evaluation.PointWise.Recall:F3} / {evaluation.PointWise.F1:F3} |");
        foreach (var (family, m) in evaluation.ByFamily.OrderBy(f => f.Key))
        {
            Console.WriteLine($"| {family} series: precision / recall / F1 | {m.Precision:F3} / {m.Recall:F3} / {m.F1:F3} |");
        }
        foreach (var (name, seconds) in phases)
        {
            Console.WriteLine($"| {name} | {seconds:F1} s |");
        }
        Console.WriteLine($"| total | {total.Elapsed.TotalSeconds:F1} s |");
        Console.WriteLine();
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        Console.WriteLine("Look at the results:");
        Console.WriteLine($"  PGPASSWORD={builder.Password} psql -h {builder.Host} -p {builder.Port} -U {builder.Username} -d {builder.Database}");
        Console.WriteLine("  select run_id, kind, as_of, status, series_scored, series_skipped, anomalies_written, elapsed_ms from run;");
        Console.WriteLine("  select s.series_key, a.ts, a.value, a.forecast, a.lower_band, a.upper_band, a.score from anomaly a join series s using (series_id) order by a.score desc limit 20;");
        Console.WriteLine("  select status, count(*) from run_series group by status;");

        if (json is not null)
        {
            var figures = new Dictionary<string, object>
            {
                ["series_scored"] = summary.SeriesScored,
                ["anomalies_written"] = summary.AnomaliesWritten,
                ["precision"] = metrics.Precision,
                ["recall"] = metrics.Recall,
                ["f1"] = metrics.F1,
                ["seconds"] = total.Elapsed.TotalSeconds,
                ["phase_seconds"] = phases.ToDictionary(p => p.Name, p => p.Seconds),
                ["clusters"] = clustering.Clusters.Count,
            };
            await File.WriteAllTextAsync(json.FullName, JsonSerializer.Serialize(figures, IndentedJson), cancellationToken);
        }
        return 0;
    }

    /// <summary>The demo works in a database of its own (`&lt;database&gt;_demo`), dropped and created anew so every run starts clean.</summary>
    private static async Task<string> RecreateDemoDatabaseAsync(string? database, CancellationToken cancellationToken)
    {
        var builder = ThrowawayDatabase.Beside("demo");
        builder.Database = database ?? builder.Database;
        await ThrowawayDatabase.RecreateAsync(builder, cancellationToken);
        return builder.ConnectionString;
    }
}
