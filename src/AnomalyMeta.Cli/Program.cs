using System.CommandLine;
using AnomalyMeta.Cli.Commands;

// The `anomalymeta` tool: each command parses its arguments, calls the library that does the work,
// prints a table and exits non-zero with a clear message on failure.
var bench = new Command("bench", "Speed and quality benchmarks (run in Release).");
foreach (var command in BenchCommands.All())
{
    bench.Subcommands.Add(command);
}

var eval = new Command("eval", "Evaluations against published benchmarks.");
foreach (var command in EvalCommands.All())
{
    eval.Subcommands.Add(command);
}

var root = new RootCommand("AnomalyMeta: meta-learned anomaly detection for millions of time series.");
root.Subcommands.Add(bench);
root.Subcommands.Add(eval);
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(ApiKeyCommands.Create());
root.Subcommands.Add(ModelCommands.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(LoadDemoCommand.Create());
foreach (var command in PipelineCommands.All())
{
    root.Subcommands.Add(command);
}
return await CliRunner.InvokeAsync(root, args);
