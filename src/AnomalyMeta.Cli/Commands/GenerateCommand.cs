using System.CommandLine;
using AnomalyMeta.Core.Synthetic;

namespace AnomalyMeta.Cli.Commands;

/// <summary>
/// `anomalymeta generate`: the demo's generated fleet as an observation CSV (`series_key,timestamp,value`, blank where a
/// point is missing), for loading through `ingest` or the HTTP endpoint the way real feeds arrive.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var series = new Option<int>("--series") { Description = "Series to generate.", DefaultValueFactory = _ => 1000 };
        var days = new Option<int>("--days") { Description = "Days of history before the scoring day.", DefaultValueFactory = _ => 22 };
        var lastDay = new Option<DateOnly?>("--last-day") { Description = "The last day generated (the scoring day); default: yesterday (UTC)." };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 42 };
        var output = new Option<FileInfo>("--out") { Description = "The CSV to write.", Required = true };
        var command = new Command("generate", "Write a generated fleet (the demo's mix, anomalies on its last day) as an observation CSV.")
        {
            series, days, lastDay, seed, output,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new SyntheticFleetOptions
            {
                SeriesCount = parse.GetValue(series),
                HistoryDays = parse.GetValue(days),
                Seed = parse.GetValue(seed),
                ScoringDay = parse.GetValue(lastDay) ?? DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-1),
            };
            var generator = new SyntheticSeriesGenerator(options);
            var file = parse.GetRequiredValue(output);
            await using var writer = new StreamWriter(file.FullName);
            await writer.WriteLineAsync(SyntheticCsv.Header);
            long rows = await SyntheticCsv.WriteSeriesAsync(writer, generator, 0, options.SeriesCount, cancellationToken);
            Console.WriteLine($"Wrote {rows:N0} observations of {options.SeriesCount:N0} series, {options.FirstDay:yyyy-MM-dd} to {options.ScoringDay:yyyy-MM-dd}, to {file.FullName}.");
            return 0;
        });
        return command;
    }
}
