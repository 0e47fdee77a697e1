using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AnomalyMeta.Benchmarks.Evaluation;

namespace AnomalyMeta.Cli.Commands;

/// <summary>`anomalymeta eval m4`: the scoring model as a forecaster on the M4 Hourly test horizon, scored as M4 scores.</summary>
internal static class EvalM4Command
{
    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "Directory with Hourly-train.csv and Hourly-test.csv.", Required = true };
        var kPeriods = new Option<int>("--k-periods") { Description = "Periods of 24 points in the support window.", DefaultValueFactory = _ => 7 };
        var iterations = new Option<int>("--iterations") { Description = "Meta-training iterations.", DefaultValueFactory = _ => 3000 };
        var seed = new Option<int>("--seed") { Description = "Seed of meta-training.", DefaultValueFactory = _ => 1 };
        var json = new Option<FileInfo?>("--json") { Description = "Write the figures as JSON to this file." };
        var command = new Command("m4", "Forecast the M4 Hourly test horizon (48) from the last K periods: sMAPE, MASE, OWA beside seasonal naive and Naive2.")
        {
            data, kPeriods, iterations, seed, json,
        };
        command.SetAction(parse =>
        {
            var result = M4Evaluation.Run(parse.GetValue(data)!.FullName, parse.GetValue(kPeriods), parse.GetValue(iterations), parse.GetValue(seed),
                line => Console.Error.WriteLine($"eval m4: {line}"));
            Console.WriteLine($"M4 Hourly, 48-hour horizon, support of the last {result.KPeriods} periods ({result.Iterations} meta-iterations, {result.TrainSeconds:F1} s training, {result.ForecastSeconds:F1} s forecasting):");
            Console.WriteLine();
            Console.WriteLine("| method | sMAPE | MASE | OWA |");
            Console.WriteLine("| --- | --- | --- | --- |");
            foreach (var s in result.Scores)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {s.Method} | {s.Smape:F3} | {s.Mase:F3} | {s.Owa:F3} |"));
            }
            if (parse.GetValue(json) is FileInfo file)
            {
                var figures = new Dictionary<string, object>
                {
                    ["dataset"] = "Hourly",
                    ["k_periods"] = result.KPeriods,
                    ["iterations"] = result.Iterations,
                    ["methods"] = result.Scores.ToDictionary(s => s.Method, s => new { smape = s.Smape, mase = s.Mase, owa = s.Owa, series = s.Series }),
                };
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(figures, IndentedJson));
            }
            return 0;
        });
        return command;
    }
}
