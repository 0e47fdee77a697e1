using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnomalyMeta.Benchmarks;

namespace AnomalyMeta.Cli.Commands;

/// <summary>`anomalymeta bench period`: period detection accuracy on generated series, throughput, M4 Hourly share.</summary>
internal static class PeriodBenchCommand
{
    public static Command Create()
    {
        var json = new Option<FileInfo?>("--json") { Description = "Write the results as JSON to this file." };
        var m4 = new Option<DirectoryInfo?>("--m4") { Description = "Directory with the M4 Hourly-train.csv and Weekly-train.csv files." };
        var perCell = new Option<int>("--series-per-cell") { Description = "Generated series per (period, noise, missing rate) cell.", DefaultValueFactory = _ => 40 };
        var throughput = new Option<int>("--throughput-series") { Description = "Series processed for the throughput figure.", DefaultValueFactory = _ => 60_000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the generated set.", DefaultValueFactory = _ => 42 };
        var command = new Command("period", "Period detection: accuracy per true period, noise level and missing rate; throughput of detection + features + assignment.")
        {
            json, m4, perCell, throughput, seed,
        };
        command.SetAction(parse => Run(
            parse.GetValue(perCell), parse.GetValue(seed), parse.GetValue(throughput), parse.GetValue(m4), parse.GetValue(json)));
        return command;
    }

    private static int Run(int seriesPerCell, int seed, int throughputSeries, DirectoryInfo? m4, FileInfo? json)
    {
        if (seriesPerCell < 1 || throughputSeries < 1)
        {
            throw new ArgumentException("--series-per-cell and --throughput-series must be positive.");
        }

        if (m4 is not null && !m4.Exists)
        {
            throw new DirectoryNotFoundException($"--m4 {m4.FullName}: directory not found.");
        }

        PeriodBenchmarkResult result = PeriodBenchmark.Run(seriesPerCell, seed, throughputSeries, m4?.FullName);
        Console.WriteLine(Table(result));
        if (json is not null)
        {
            File.WriteAllText(json.FullName, ToJson(result).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        return 0;
    }

    private static string Table(PeriodBenchmarkResult result)
    {
        var culture = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(culture, $"Period detection on {result.GeneratedSeries} generated series (exact primary and secondary period; half with trend, level shifts and 1% spikes).");
        text.AppendLine();
        text.AppendLine("| Slice | Accuracy | Series |");
        text.AppendLine("|---|---|---|");
        foreach (AccuracySlice slice in result.PerPeriod.Concat(result.PerNoise).Concat(result.PerMissing))
        {
            text.AppendLine(culture, $"| {slice.Label} | {slice.Accuracy:P1} | {slice.Total} |");
        }

        text.AppendLine();
        text.AppendLine(culture, $"Periodic accuracy {result.Accuracy:P2}, aperiodic recognised {result.AperiodicAccuracy:P2}.");
        text.AppendLine(culture, $"Without the calendar prior (PreferredPeriods empty): periodic {result.AccuracyWithoutCalendar:P2}, aperiodic {result.AperiodicAccuracyWithoutCalendar:P2}.");
        AppendThroughput(text, "generated set", result.Throughput);
        AppendThroughput(text, "demo fleet (22 days)", result.FleetThroughput);
        FalsePeriods noise = result.NoiseFalsePeriods;
        text.AppendLine(culture, $"False periods on {noise.Series} random walks and AR(1) series: {noise.WithRecentLook:P2} ({noise.WholeSeriesOnly:P2} without the second look at the recent half).");
        if (result.M4 is { } m4)
        {
            text.AppendLine();
            text.AppendLine(culture, $"M4 Hourly: {m4.HourlyWith24Or168} of {m4.HourlySeries} series ({m4.HourlyShare:P1}) with period 24 or 168 ({m4.HourlyWith24Or168WholeSeriesOnly} without the second look at the recent half).");
            text.AppendLine(culture, $"  periods found: {Pairs(m4.HourlyPeriods, 12)}");
            text.AppendLine(culture, $"M4 Weekly: {m4.WeeklyPeriodic} of {m4.WeeklySeries} periodic ({m4.WeeklyPeriodicWholeSeriesOnly} without the second look), {m4.WeeklyWith52} with period 51-53.");
            text.AppendLine(culture, $"  periods found: {Pairs(m4.WeeklyPeriods, 8)}");
            AppendThroughput(text, "M4 Hourly", m4.Throughput);
        }

        if (result.Misses.Count > 0)
        {
            text.AppendLine();
            text.AppendLine(culture, $"First misses ({result.Misses.Count} in all):");
            foreach (string miss in result.Misses.Take(15))
            {
                text.AppendLine(culture, $"  {miss}");
            }
        }

        return text.ToString();
    }

    private static void AppendThroughput(StringBuilder text, string label, Throughput throughput) =>
        text.AppendLine(CultureInfo.InvariantCulture, $"Throughput on {label} (detect + features + assign, {throughput.Threads} threads, {throughput.Series} series, mean length {throughput.MeanLength:F0}): {throughput.SeriesPerSecond:F0} series/s wall clock, {throughput.SeriesPerCpuSecond:F0} series per CPU-second.");

    private static string Pairs(IReadOnlyList<KeyValuePair<string, int>> pairs, int count) =>
        string.Join(", ", pairs.Take(count).Select(p => $"{p.Key}: {p.Value}"));

    private static JsonObject ToJson(PeriodBenchmarkResult result)
    {
        var json = new JsonObject
        {
            ["accuracy"] = result.Accuracy,
            ["aperiodic_accuracy"] = result.AperiodicAccuracy,
            ["series_per_second"] = result.Throughput.SeriesPerSecond,
            ["series_per_cpu_second"] = result.Throughput.SeriesPerCpuSecond,
            ["fleet_series_per_second"] = result.FleetThroughput.SeriesPerSecond,
            ["fleet_series_per_cpu_second"] = result.FleetThroughput.SeriesPerCpuSecond,
            ["accuracy_without_calendar_prior"] = result.AccuracyWithoutCalendar,
            ["aperiodic_accuracy_without_calendar_prior"] = result.AperiodicAccuracyWithoutCalendar,
            ["generated_series"] = result.GeneratedSeries,
            ["noise_series"] = result.NoiseFalsePeriods.Series,
            ["noise_false_periods"] = result.NoiseFalsePeriods.WithRecentLook,
            ["noise_false_periods_whole_series_only"] = result.NoiseFalsePeriods.WholeSeriesOnly,
            ["throughput_series"] = result.Throughput.Series,
            ["threads"] = result.Throughput.Threads,
            ["per_period"] = Slices(result.PerPeriod),
            ["per_noise"] = Slices(result.PerNoise),
            ["per_missing"] = Slices(result.PerMissing),
        };
        if (result.M4 is { } m4)
        {
            json["m4"] = new JsonObject
            {
                ["hourly_series"] = m4.HourlySeries,
                ["hourly_share_24_or_168"] = m4.HourlyShare,
                ["hourly_with_24_or_168"] = m4.HourlyWith24Or168,
                ["hourly_with_24_or_168_whole_series_only"] = m4.HourlyWith24Or168WholeSeriesOnly,
                ["weekly_series"] = m4.WeeklySeries,
                ["weekly_periodic"] = m4.WeeklyPeriodic,
                ["weekly_periodic_whole_series_only"] = m4.WeeklyPeriodicWholeSeriesOnly,
                ["weekly_with_52"] = m4.WeeklyWith52,
                ["hourly_series_per_second"] = m4.Throughput.SeriesPerSecond,
                ["hourly_series_per_cpu_second"] = m4.Throughput.SeriesPerCpuSecond,
                ["hourly_periods"] = Counts(m4.HourlyPeriods),
                ["weekly_periods"] = Counts(m4.WeeklyPeriods),
            };
        }

        return json;
    }

    private static JsonObject Slices(IReadOnlyList<AccuracySlice> slices)
    {
        var json = new JsonObject();
        foreach (AccuracySlice slice in slices)
        {
            json[slice.Label] = slice.Accuracy;
        }

        return json;
    }

    private static JsonObject Counts(IReadOnlyList<KeyValuePair<string, int>> pairs)
    {
        var json = new JsonObject();
        foreach (var pair in pairs)
        {
            json[pair.Key] = pair.Value;
        }

        return json;
    }
}
