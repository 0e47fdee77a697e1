using System.CommandLine;

namespace AnomalyMeta.Cli.Commands;

/// <summary>The `anomalymeta bench ...` subcommands, one file each.</summary>
internal static class BenchCommands
{
    public static IEnumerable<Command> All()
    {
        // One line per benchmark command.
        yield return BenchSinusoidCommand.Create();
        yield return BenchAdaptCommand.Create();
        yield return PeriodBenchCommand.Create();
        yield return ClustersBenchCommand.Create();
        yield return BenchScaleCommand.Create();
        yield return BenchIngestHttpCommand.Create();
        yield return BenchDashboardCommand.Create();
        yield break;
    }
}
