using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnomalyMeta.Learning;
using AnomalyMeta.Learning.Benchmarks;

namespace AnomalyMeta.Cli.Commands;

/// <summary>`anomalymeta bench adapt`: scoring-time adaptation throughput and peak memory.</summary>
internal static class BenchAdaptCommand
{
    public static Command Create()
    {
        var series = new Option<int>("--series") { Description = "Independent tasks to adapt.", DefaultValueFactory = _ => 1_000_000 };
        var k = new Option<int>("--k") { Description = "Support points per task; as many points are forecast.", DefaultValueFactory = _ => 24 };
        var steps = new Option<int>("--steps") { Description = "SGD steps per task.", DefaultValueFactory = _ => 5 };
        var json = new Option<FileInfo?>("--json") { Description = "Write the results as JSON to this file." };
        var engine = new Option<AdaptEngine>("--engine") { Description = "fast: the Vector256 C# kernel; torch: TorchSharp batched bmm.", DefaultValueFactory = _ => AdaptEngine.Fast };
        var threads = new Option<int>("--threads") { Description = "Adapter and libtorch threads.", DefaultValueFactory = _ => 2 };
        var checkpoint = new Option<FileInfo?>("--checkpoint") { Description = "Adapt from this meta-learner checkpoint instead of a freshly initialised 1-40-40-1 network." };
        var command = new Command("adapt", "Adapt N independent tasks from K support points and forecast K points: series per second and peak RSS.")
        {
            series, k, steps, json, engine, threads, checkpoint,
        };
        command.SetAction(parse => Run(
            new AdaptBenchmarkOptions
            {
                Series = parse.GetValue(series),
                SupportSize = parse.GetValue(k),
                Steps = parse.GetValue(steps),
                Engine = parse.GetValue(engine),
                Threads = parse.GetValue(threads),
            },
            parse.GetValue(checkpoint),
            parse.GetValue(json)));
        return command;
    }

    private static int Run(AdaptBenchmarkOptions options, FileInfo? checkpoint, FileInfo? json)
    {
        MetaParameters? parameters = null;
        if (checkpoint is not null)
        {
            using var stream = checkpoint.OpenRead();
            using var learner = MetaLearner.Load(stream);
            parameters = learner.ExportParameters();
        }

        var result = AdaptBenchmark.Run(options, parameters);
        Console.WriteLine("| Engine | Series | K | Steps | Threads | Series/s | Series/CPU-s | Adapt s | Wall s | Peak RSS MiB |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        Console.WriteLine(FormattableString.Invariant(
            $"| {options.Engine} | {result.Series} | {options.SupportSize} | {options.Steps} | {options.Threads} | {result.SeriesPerSecond:F0} | {result.SeriesPerCpuSecond:F0} | {result.AdaptSeconds:F2} | {result.WallSeconds:F2} | {result.PeakRssMb:F0} |"));
        if (json is not null)
        {
            var root = new JsonObject
            {
                ["series_per_second"] = result.SeriesPerSecond,
                ["peak_rss_mb"] = result.PeakRssMb,
                ["series_per_cpu_second"] = result.SeriesPerCpuSecond,
                ["series"] = result.Series,
                ["k"] = options.SupportSize,
                ["steps"] = options.Steps,
                ["engine"] = options.Engine.ToString().ToLowerInvariant(),
                ["threads"] = options.Threads,
                ["adapt_seconds"] = result.AdaptSeconds,
                ["wall_seconds"] = result.WallSeconds,
                ["forecast_mse"] = result.ForecastMse,
            };
            File.WriteAllText(json.FullName, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        return 0;
    }
}
