using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnomalyMeta.Benchmarks;

namespace AnomalyMeta.Cli.Commands;

/// <summary>`anomalymeta bench sinusoid`: the sinusoid experiment of Finn et al. 2017, section 5.1, for every variant.</summary>
internal static class BenchSinusoidCommand
{
    // Mean MSE of the reference PyTorch runs after 1 and 10 steps, per K (from the issue), printed beside ours.
    private static readonly Dictionary<string, Dictionary<int, (double OneStep, double TenSteps)>> Reference = new()
    {
        [SinusoidVariants.Maml] = new() { [5] = (0.61, 0.36), [10] = (0.36, 0.16), [20] = (0.20, 0.05) },
        [SinusoidVariants.FirstOrderMaml] = new() { [5] = (1.11, 0.51), [10] = (0.72, 0.17), [20] = (0.48, 0.06) },
        [SinusoidVariants.Pretrained] = new() { [5] = (2.33, 2.01), [10] = (2.18, 1.43), [20] = (1.97, 0.77) },
    };

    public static Command Create()
    {
        var iterations = new Option<int>("--iterations") { Description = "Meta-training iterations per model.", DefaultValueFactory = _ => 70_000 };
        var json = new Option<FileInfo?>("--json") { Description = "Write the results as JSON to this file." };
        var variants = new Option<string>("--variants") { Description = "Comma-separated models to run: maml, fomaml, metasgd, metasgd_anysteps, pretrained, oracle.", DefaultValueFactory = _ => string.Join(',', SinusoidVariants.All) };
        var threads = new Option<int>("--threads") { Description = "libtorch threads for meta-training (1 is fastest for these tiny tensors).", DefaultValueFactory = _ => 1 };
        var checkpoints = new Option<DirectoryInfo?>("--checkpoint-dir") { Description = "Save each trained model here as sinusoid-{variant}.ammeta." };
        var seed = new Option<int>("--seed") { Description = "Seed of initialisation, training tasks and evaluation tasks.", DefaultValueFactory = _ => 1 };
        var command = new Command("sinusoid", "Sinusoid regression of Finn et al. 2017 (section 5.1): MAML, first-order MAML, Meta-SGD, pretrained and oracle.")
        {
            iterations, json, variants, threads, seed, checkpoints,
        };
        command.SetAction(parse => Run(
            new SinusoidBenchmarkOptions
            {
                Iterations = parse.GetValue(iterations),
                Variants = parse.GetValue(variants)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                TorchThreads = parse.GetValue(threads),
                Seed = parse.GetValue(seed),
                CheckpointDirectory = parse.GetValue(checkpoints)?.FullName,
            },
            parse.GetValue(json)));
        return command;
    }

    private static int Run(SinusoidBenchmarkOptions options, FileInfo? json)
    {
        var result = SinusoidBenchmark.Run(options, message => Console.Error.WriteLine($"bench sinusoid: {message}"));
        Console.WriteLine(Table(result));
        if (json is not null)
        {
            File.WriteAllText(json.FullName, ToJson(result).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        return 0;
    }

    private static string Table(SinusoidBenchmarkResult result)
    {
        var culture = CultureInfo.InvariantCulture;
        var text = new System.Text.StringBuilder();
        text.AppendLine(culture, $"Sinusoid regression, mean query MSE over {result.Options.EvaluationTasks} new tasks ({result.Options.EvaluationQueryPoints} points each) ± 95% interval; {result.Options.Iterations} meta-iterations per model.");
        text.AppendLine();
        text.Append("| Model | K |");
        foreach (var steps in result.Options.EvaluationSteps)
        {
            text.Append(culture, $" {steps} steps |");
        }

        text.AppendLine(" Reference 1 / 10 steps | Train it/s |");
        text.Append("|---|---|");
        foreach (var _ in result.Options.EvaluationSteps)
        {
            text.Append("---|");
        }

        text.AppendLine("---|---|");
        foreach (var variant in result.Variants)
        {
            foreach (var shots in result.Options.EvaluationShots)
            {
                text.Append(culture, $"| {variant.Name} | {shots} |");
                foreach (var steps in result.Options.EvaluationSteps)
                {
                    var cell = variant.Cell(shots, steps);
                    text.Append(culture, $" {cell.Mse:F3} ± {cell.Ci95:F3} |");
                }

                var reference = Reference.TryGetValue(variant.Name, out var byShots) && byShots.TryGetValue(shots, out var r)
                    ? string.Create(culture, $"{r.OneStep:F2} / {r.TenSteps:F2}")
                    : "–";
                text.AppendLine(culture, $" {reference} | {variant.Training.IterationsPerSecond:F0} |");
            }
        }

        text.AppendLine();
        var speedOf = result.Variants.Any(v => v.Name == SinusoidVariants.Maml) ? "second-order MAML" : result.Variants.Count > 0 ? result.Variants[0].Name : "none";
        text.Append(culture, $"Meta-training speed ({speedOf}): {result.MetaIterationsPerSecond:F0} iterations/s with {result.Options.TorchThreads} libtorch thread(s).");
        return text.ToString();
    }

    // JSON has no NaN or infinity: a diverged adaptation is written as null.
    private static JsonValue? Number(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;

    private static JsonObject ToJson(SinusoidBenchmarkResult result)
    {
        var root = new JsonObject();
        var training = new JsonObject();
        foreach (var variant in result.Variants)
        {
            var byShots = new JsonObject();
            foreach (var shots in result.Options.EvaluationShots)
            {
                var bySteps = new JsonObject();
                foreach (var steps in result.Options.EvaluationSteps)
                {
                    var cell = variant.Cell(shots, steps);
                    bySteps[$"steps{steps}"] = Number(cell.Mse);
                    bySteps[$"steps{steps}_ci"] = Number(cell.Ci95);
                }

                byShots[$"k{shots}"] = bySteps;
            }

            root[variant.Name] = byShots;
            training[variant.Name] = new JsonObject
            {
                ["iterations"] = variant.Training.Iterations,
                ["iterations_per_second"] = variant.Training.IterationsPerSecond,
                ["seconds"] = variant.Training.ElapsedSeconds,
                ["final_meta_loss"] = Number(variant.Training.FinalMetaLoss),
                ["skipped_iterations"] = variant.Training.SkippedIterations,
            };
        }

        root["meta_iterations_per_second"] = result.MetaIterationsPerSecond;
        root["training"] = training;
        root["torch_threads"] = result.Options.TorchThreads;
        return root;
    }
}
