using System.CommandLine;
using System.Globalization;
using AnomalyMeta.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Cli.Commands;

/// <summary>`anomalymeta eval feedback`: the service's precision as people judged its flags, on the configured database.</summary>
internal static class EvalFeedbackCommand
{
    public static Command Create()
    {
        var since = new Option<DateOnly?>("--since")
        {
            Description = "First scoring day to count (yyyy-MM-dd; default: every day with feedback).",
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
                {
                    return day;
                }
                result.AddError($"--since: '{text}' is not a date in yyyy-MM-dd form.");
                return null;
            },
        };
        var command = new Command("feedback", "Precision against the feedback on flags (confirmed / (confirmed + false positives)), per scoring day and overall.") { since };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var days = await host.Services.GetRequiredService<FeedbackStore>().ByDayAsync(parse.GetValue(since), cancellationToken);
            if (days.Count == 0)
            {
                Console.WriteLine("No feedback on any flag yet: give some with `anomalymeta feedback` or POST /api/anomalies/feedback.");
                return 0;
            }
            // Precision only: feedback is given on flags, so the anomalies the service missed (recall) are not in it.
            Console.WriteLine("| day | confirmed | false positives | precision |");
            Console.WriteLine("| --- | --- | --- | --- |");
            foreach (var day in days)
            {
                Console.WriteLine($"| {day.AsOf:yyyy-MM-dd} | {day.Confirmed:N0} | {day.FalsePositive:N0} | {Precision(day)} |");
            }
            var overall = new FeedbackDay(default, days.Sum(d => d.Confirmed), days.Sum(d => d.FalsePositive));
            Console.WriteLine($"| overall | {overall.Confirmed:N0} | {overall.FalsePositive:N0} | {Precision(overall)} |");
            return 0;
        });
        return command;
    }

    private static string Precision(FeedbackDay day) => day.Precision is double precision ? precision.ToString("F3", CultureInfo.InvariantCulture) : "n/a";
}
