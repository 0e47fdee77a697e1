using System.CommandLine;

namespace AnomalyMeta.Cli.Commands;

/// <summary>The `anomalymeta eval ...` subcommands, one file each.</summary>
internal static class EvalCommands
{
    public static IEnumerable<Command> All()
    {
        // One line per evaluation command.
        yield return EvalNabCommand.Create();
        yield return EvalNabScoreCommand.Create();
        yield return EvalM4Command.Create();
        yield return EvalInjectCommand.Create();
        yield return EvalFeedbackCommand.Create();
        yield break;
    }
}
