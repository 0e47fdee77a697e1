using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AnomalyMeta.Benchmarks.Evaluation;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Cli.Commands;

/// <summary>`anomalymeta eval inject`: anomalies planted in M4 Hourly series, found or not by the pipeline in a throwaway database.</summary>
internal static class EvalInjectCommand
{
    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "Directory with Hourly-train.csv.", Required = true };
        var iterations = new Option<int>("--iterations") { Description = "Meta-iterations per cluster.", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the planting.", DefaultValueFactory = _ => 1 };
        var json = new Option<FileInfo?>("--json") { Description = "Write the figures as JSON to this file." };
        var command = new Command("inject", "Plant spikes, level shifts, variance and trend changes in M4 Hourly series and score the pipeline's flags, per kind.")
        {
            data, iterations, seed, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var builder = ThrowawayDatabase.Beside($"eval_inject_{Environment.ProcessId}");
            try
            {
                await ThrowawayDatabase.RecreateAsync(builder, cancellationToken);
                IReadOnlyList<InjectionScore> scores;
                using (var host = CliHost.Build(builder.ConnectionString))
                {
                    scores = await ActivatorUtilities.CreateInstance<InjectionEvaluation>(host.Services)
                        .RunAsync(parse.GetValue(data)!.FullName, parse.GetValue(iterations), parse.GetValue(seed), cancellationToken);
                }
                Console.WriteLine($"Anomalies planted on {InjectionEvaluation.ScoringDay:yyyy-MM-dd} in M4 Hourly series, flagged at the service threshold:");
                Console.WriteLine();
                Console.WriteLine("| kind | series | point F1 (point-wise) | point F1 (delay protocol) | event recall | event precision | event F1 | clean days flagged |");
                Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
                foreach (var s in scores)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {s.Name} | {s.Series} | {s.PointWise.F1:F3} | {s.DelayAdjusted.F1:F3} | {s.EventRecall:F3} | {s.EventPrecision:F3} | {s.EventF1:F3} | {s.FalseAlarmShare:P1} |"));
                }
                if (parse.GetValue(json) is FileInfo file)
                {
                    var figures = scores.ToDictionary(s => s.Name, s => new
                    {
                        series = s.Series,
                        events = s.Events,
                        point_f1 = s.PointWise.F1,
                        delay_adjusted_f1 = s.DelayAdjusted.F1,
                        event_recall = Number(s.EventRecall),
                        event_precision = Number(s.EventPrecision),
                        event_f1 = Number(s.EventF1),
                        clean_days_flagged = Number(s.FalseAlarmShare),
                    });
                    await File.WriteAllTextAsync(file.FullName, JsonSerializer.Serialize(figures, IndentedJson), cancellationToken);
                }
                return 0;
            }
            finally
            {
                await ThrowawayDatabase.DropAsync(builder, CancellationToken.None);
            }
        });
        return command;
    }

    // JSON has no NaN: a figure without a denominator (no event, no clean series) is null.
    private static double? Number(double value) => double.IsNaN(value) ? null : value;
}
