using System.CommandLine;
using Npgsql;

namespace AnomalyMeta.Cli.Commands;

internal static class CliRunner
{
    /// <summary>Runs the parsed command; an exception becomes one clear line on stderr and exit code 1.</summary>
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        try
        {
            // Our handlers below turn expected failures into one line; anything else is a bug and keeps its stack trace.
            return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception exception) when (exception is NpgsqlException or System.Net.Sockets.SocketException
            || exception.InnerException is NpgsqlException or System.Net.Sockets.SocketException)
        {
            // The database is a run-level dependency: say which one and how to bring it up, not a stack trace.
            await Console.Error.WriteLineAsync($"anomalymeta: PostgreSQL failed: {(exception.InnerException ?? exception).Message}. "
                + "Is the server up (./deploy/postgres-local.sh) and ConnectionStrings__Postgres right?");
            return 1;
        }
        catch (OperationCanceledException)
        {
            // SIGTERM or Ctrl+C: whatever was committed stays (a run is recorded as failed and resumes where it stopped).
            await Console.Error.WriteLineAsync("anomalymeta: cancelled; committed work is kept, and a scoring run resumes where it stopped when run again.");
            return 130;
        }
        catch (Exception exception) when (exception is InvalidDataException or IOException or InvalidOperationException or ArgumentException)
        {
            await Console.Error.WriteLineAsync($"anomalymeta: {exception.Message}");
            return 1;
        }
    }
}
