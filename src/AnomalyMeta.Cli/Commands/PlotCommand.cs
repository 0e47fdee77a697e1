using System.CommandLine;
using System.Globalization;
using AnomalyMeta.Cli.Charts;
using AnomalyMeta.Scoring;
using AnomalyMeta.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Cli.Commands;

/// <summary>`anomalymeta plot`: one series' scored day as a PNG, for the on-call engineer who asks "why this flag?".</summary>
internal static class PlotCommand
{
    // A thumbnail below this says nothing; above the upper bound the PNG is larger than any screen.
    private const int MinimumPixels = 200;
    private const int MaximumPixels = 8000;

    public static Command Create()
    {
        var series = new Option<string>("--series") { Description = "Key of the series to draw.", Required = true };
        var date = new Option<DateOnly>("--date")
        {
            Description = "Scoring date to draw (yyyy-MM-dd): the latest run that scored the series that day.",
            Required = true,
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
                {
                    return day;
                }
                result.AddError($"--date: '{text}' is not a date in yyyy-MM-dd form.");
                return default;
            },
        };
        var output = new Option<FileInfo>("--out") { Description = "PNG file to write.", Required = true };
        var width = PixelsOption("--width", 1200);
        var height = PixelsOption("--height", 600);
        var command = new Command("plot",
            "Draw a series' scored day as a PNG: actual values of the adaptation window and the day, forecast and its band, flagged points in red.")
        {
            series, date, output, width, height,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string key = parse.GetRequiredValue(series);
            var day = parse.GetValue(date);
            var file = parse.GetRequiredValue(output);
            using var host = CliHost.Build();
            var detection = host.Services.GetRequiredService<ScoringOptions>().Detection;
            var lookup = await host.Services.GetRequiredService<SeriesDayQueries>()
                .DayAsync(key, day, detection, SeriesDayQueries.DefaultHistoryLength, cancellationToken);
            if (lookup.Day is not SeriesDay found)
            {
                await Console.Error.WriteLineAsync($"anomalymeta plot: {lookup.Missing}");
                return 1;
            }
            SeriesDayChart.SavePng(found, file.FullName, parse.GetValue(width), parse.GetValue(height));
            Console.WriteLine($"Wrote {file.FullName}: {SeriesDayChart.Title(found)}; K = {found.SeasonLength} from {found.Model}.");
            return 0;
        });
        return command;
    }

    private static Option<int> PixelsOption(string name, int defaultPixels) => new(name)
    {
        Description = $"Image {name[2..]} in pixels ({MinimumPixels} to {MaximumPixels}).",
        DefaultValueFactory = _ => defaultPixels,
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int pixels) && pixels is >= MinimumPixels and <= MaximumPixels)
            {
                return pixels;
            }
            result.AddError($"{name}: '{text}' is not a whole number of pixels from {MinimumPixels} to {MaximumPixels}.");
            return default;
        },
    };
}
