using System.CommandLine;

namespace AnomalyMeta.Cli.Commands;

internal static class CliRunner
{
    /// <summary>Runs the parsed command; an exception becomes one clear line on stderr and exit code 1.</summary>
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        try
        {
            return await root.Parse(args).InvokeAsync();
        }
        catch (Exception exception) when (exception is InvalidDataException or IOException or InvalidOperationException or ArgumentException)
        {
            await Console.Error.WriteLineAsync($"anomalymeta: {exception.Message}");
            return 1;
        }
    }
}
