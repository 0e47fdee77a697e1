using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnomalyMeta.Benchmarks.Evaluation.Nab;

namespace AnomalyMeta.Cli.Commands;

/// <summary>`anomalymeta eval nab-score`: scores a detector's NAB result files against a NAB corpus, per profile.</summary>
internal static class EvalNabScoreCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "NAB-layout directory: data/, labels/combined_windows.json, config/profiles.json.", Required = true };
        var results = new Option<DirectoryInfo>("--results") { Description = "The detector's results directory: <category>/<detector>_<file>.csv.", Required = true };
        var detector = new Option<string>("--detector") { Description = "Detector name, the prefix of its result files (e.g. numenta).", Required = true };
        var threshold = new Option<double?>("--threshold") { Description = "Also score at this fixed threshold (a row is a detection when its score is at or above it)." };
        var json = new Option<FileInfo?>("--json") { Description = "Write the results as JSON to this file." };
        var command = new Command("nab-score", "NAB score of a detector's result files: best threshold per profile, normalised scores overall and per category.")
        {
            data, results, detector, threshold, json,
        };
        command.SetAction(parse => Run(
            parse.GetValue(data)!, parse.GetValue(results)!, parse.GetValue(detector)!, parse.GetValue(threshold), parse.GetValue(json)));
        return command;
    }

    private static int Run(DirectoryInfo data, DirectoryInfo results, string detector, double? threshold, FileInfo? json)
    {
        if (threshold is { } t && !double.IsFinite(t))
        {
            throw new ArgumentException($"--threshold {t}: not a finite number.");
        }

        var corpus = NabCorpus.Load(data.FullName);
        var detections = NabResultFile.ReadAll(results.FullName, detector, corpus);
        var report = new NabScorer(corpus).Evaluate(detections, threshold);
        Console.WriteLine(Table(detector, corpus, report, threshold));
        if (json is not null)
        {
            File.WriteAllText(json.FullName, ToJson(detector, report).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        return 0;
    }

    internal static string Table(string detector, NabCorpus corpus, NabReport report, double? threshold)
    {
        var culture = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        int windows = corpus.Files.Sum(f => f.Windows.Count);
        text.AppendLine(culture, $"NAB score of '{detector}' on {corpus.Files.Count} files ({windows} windows), normalised over the same files.");
        text.AppendLine();
        string fixedColumn = threshold is { } t ? $" Score at {t.ToString("R", culture)} |" : "";
        text.AppendLine($"| Profile |{fixedColumn} Best threshold | Score at best | Raw | Null | Perfect | TP | FP | FN | TN |");
        text.AppendLine($"|---|{(threshold is null ? "" : "---|")}---|---|---|---|---|---|---|---|---|");
        foreach (var profile in report.Profiles)
        {
            var best = profile.Best;
            string fixedCell = profile.AtThreshold is { } at ? $" {Score(at.NormalizedScore)} |" : "";
            var c = best.Counts;
            text.AppendLine(culture, $"| {profile.Profile.Name} |{fixedCell} {best.Threshold.ToString("R", culture)} | {Score(best.NormalizedScore)} | {best.RawScore:F3} | {profile.Baseline.NullScore:F3} | {profile.Baseline.PerfectScore:F3} | {c.TruePositives} | {c.FalsePositives} | {c.FalseNegatives} | {c.TrueNegatives} |");
        }

        AppendCategories(text, "best threshold of each profile", report, p => p.Best);
        if (threshold is { } fixedThreshold)
        {
            AppendCategories(text, $"threshold {fixedThreshold.ToString("R", culture)}", report, p => p.AtThreshold!);
        }

        return text.ToString();
    }

    private static void AppendCategories(StringBuilder text, string label, NabReport report, Func<NabProfileReport, NabThresholdResult> pick)
    {
        var culture = CultureInfo.InvariantCulture;
        text.AppendLine();
        text.AppendLine(culture, $"Per category at the {label} (each category normalised by its own null and perfect detectors; n/a without windows):");
        text.AppendLine();
        text.AppendLine($"| Category | Files | Windows | {string.Join(" | ", report.Profiles.Select(p => p.Profile.Name))} |");
        text.AppendLine($"|---|---|---|{string.Concat(report.Profiles.Select(_ => "---|"))}");
        var first = pick(report.Profiles[0]);
        for (int c = 0; c < first.Categories.Count; c++)
        {
            var category = first.Categories[c];
            string scores = string.Join(" | ", report.Profiles.Select(p => Score(pick(p).Categories[c].NormalizedScore)));
            text.AppendLine(culture, $"| {category.Category} | {category.Files} | {category.Windows} | {scores} |");
        }
    }

    private static string Score(double normalized) =>
        double.IsNaN(normalized) ? "n/a" : normalized.ToString("F3", CultureInfo.InvariantCulture);

    internal static JsonObject ToJson(string detector, NabReport report)
    {
        var profiles = new JsonObject();
        foreach (var profile in report.Profiles)
        {
            profiles[profile.Profile.Name] = new JsonObject
            {
                ["best_threshold"] = profile.Best.Threshold,
                ["best_score"] = Number(profile.Best.NormalizedScore),
                ["score_at_threshold"] = profile.AtThreshold is { } at ? Number(at.NormalizedScore) : null,
                ["threshold"] = profile.AtThreshold?.Threshold,
                ["raw_best_score"] = profile.Best.RawScore,
                ["raw_score_at_threshold"] = profile.AtThreshold?.RawScore,
                ["null_score"] = profile.Baseline.NullScore,
                ["perfect_score"] = profile.Baseline.PerfectScore,
                ["best_counts"] = Counts(profile.Best.Counts),
            };
        }

        var categories = new JsonObject();
        var first = report.Profiles[0].Best;
        for (int c = 0; c < first.Categories.Count; c++)
        {
            var categoryProfiles = new JsonObject();
            foreach (var profile in report.Profiles)
            {
                var atBest = profile.Best.Categories[c];
                categoryProfiles[profile.Profile.Name] = new JsonObject
                {
                    ["best_score"] = Number(atBest.NormalizedScore),
                    ["score_at_threshold"] = profile.AtThreshold is { } at ? Number(at.Categories[c].NormalizedScore) : null,
                    ["raw_best_score"] = atBest.RawScore,
                    ["null_score"] = atBest.Baseline.NullScore,
                    ["perfect_score"] = atBest.Baseline.PerfectScore,
                    ["windows_detected"] = atBest.WindowsDetected,
                };
            }

            categories[first.Categories[c].Category] = new JsonObject
            {
                ["files"] = first.Categories[c].Files,
                ["windows"] = first.Categories[c].Windows,
                ["profiles"] = categoryProfiles,
            };
        }

        return new JsonObject
        {
            ["detector"] = detector,
            ["profiles"] = profiles,
            ["categories"] = categories,
        };
    }

    // JSON has no NaN: a category without windows has no normalised score.
    private static JsonValue? Number(double value) => double.IsNaN(value) ? null : JsonValue.Create(value);

    private static JsonObject Counts(NabCounts counts) => new()
    {
        ["tp"] = counts.TruePositives,
        ["fp"] = counts.FalsePositives,
        ["fn"] = counts.FalseNegatives,
        ["tn"] = counts.TrueNegatives,
    };
}
