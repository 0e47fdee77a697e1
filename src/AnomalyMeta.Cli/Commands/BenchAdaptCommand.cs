using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnomalyMeta.Learning;
using AnomalyMeta.Benchmarks;

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
        var engine = new Option<AdaptEngine>("--engine") { Description = "fast: the C# SIMD kernel; torch: TorchSharp batched bmm.", DefaultValueFactory = _ => AdaptEngine.Fast };
        var threads = new Option<int>("--threads") { Description = "Adapter and libtorch threads.", DefaultValueFactory = _ => 2 };
        var checkpoint = new Option<FileInfo?>("--checkpoint") { Description = "Adapt from this meta-learner checkpoint instead of a freshly initialised inputs-40-40-1 network." };
        var inputs = new Option<int>("--inputs") { Description = "Inputs per point (the morning job's one-step task has 9).", DefaultValueFactory = _ => 1 };
        var query = new Option<int?>("--query") { Description = "Points forecast per series (default: K; the morning job forecasts one day, 24 hourly points)." };
        var command = new Command("adapt", "Adapt N independent tasks from K support points and forecast: series per second, GFLOP/s against the CPU's ceiling, peak RSS.")
        {
            series, k, steps, json, engine, threads, checkpoint, inputs, query,
        };
        command.SetAction(parse => Run(
            new AdaptBenchmarkOptions
            {
                Series = parse.GetValue(series),
                SupportSize = parse.GetValue(k),
                Steps = parse.GetValue(steps),
                Engine = parse.GetValue(engine),
                Threads = parse.GetValue(threads),
                Inputs = parse.GetValue(inputs),
                QuerySize = parse.GetValue(query),
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
        double gflops = result.SeriesPerSecond * options.FlopsPerSeries / 1e9;
        double ceiling = CeilingGflops(options.Threads);
        double measuredPeak = FmaPeak.MeasureGflops(options.Threads);
        Console.WriteLine("| Engine | Series | K | Query | Inputs | Steps | Threads | Series/s | Series/CPU-s | FLOP/series | GFLOP/s | % of ceiling | % of measured peak | Adapt s | Wall s | Peak RSS MiB |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        Console.WriteLine(FormattableString.Invariant(
            $"| {options.Engine} | {result.Series} | {options.SupportSize} | {options.QuerySize ?? options.SupportSize} | {options.Inputs} | {options.Steps} | {options.Threads} | {result.SeriesPerSecond:F0} | {result.SeriesPerCpuSecond:F0} | {options.FlopsPerSeries:N0} | {gflops:F1} | {100 * gflops / ceiling:F1} | {100 * gflops / measuredPeak:F1} | {result.AdaptSeconds:F2} | {result.WallSeconds:F2} | {result.PeakRssMb:F0} |"));
        Console.WriteLine(FormattableString.Invariant(
            $"Ceiling: {ceiling:F1} GFLOP/s = {options.Threads} threads x {Megahertz() / 1000:F2} GHz x {FlopsPerCycle} FLOP/cycle (two FMA units x {FmaPeak.VectorWidth} floats x 2). Measured peak: {measuredPeak:F1} GFLOP/s (independent FMA chains on every thread)."));
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
                ["inputs"] = options.Inputs,
                ["query"] = options.QuerySize ?? options.SupportSize,
                ["flops_per_series"] = options.FlopsPerSeries,
                ["gflops"] = gflops,
                ["ceiling_gflops"] = ceiling,
                ["share_of_ceiling"] = gflops / ceiling,
                ["measured_peak_gflops"] = measuredPeak,
                ["share_of_measured_peak"] = gflops / measuredPeak,
            };
            File.WriteAllText(json.FullName, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        return 0;
    }

    /// <summary>
    /// Single-precision FLOP per cycle and core: two FMA units on the widest vector the CPU has (AVX-512 here, so 64).
    /// The adapter's kernel runs on that width too, but its 40-wide layers fill 48 lanes, so 83 % is its own ceiling.
    /// </summary>
    private static int FlopsPerCycle => 2 * FmaPeak.VectorWidth * 2;

    /// <summary>Nominal peak single-precision GFLOP/s of <paramref name="threads"/> cores at the nominal clock.</summary>
    private static double CeilingGflops(int threads) => threads * (Megahertz() / 1000) * FlopsPerCycle;

    /// <summary>The CPU's nominal clock from /proc/cpuinfo (turbo not counted), 2000 MHz when unknown.</summary>
    private static double Megahertz()
    {
        const string CpuInfo = "/proc/cpuinfo";
        if (File.Exists(CpuInfo))
        {
            foreach (var line in File.ReadLines(CpuInfo))
            {
                if (line.StartsWith("cpu MHz", StringComparison.Ordinal)
                    && double.TryParse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture, out double mhz))
                {
                    return mhz;
                }
            }
        }
        return 2000;
    }
}
