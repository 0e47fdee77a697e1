using System.Diagnostics;
using AnomalyMeta.Testing;

namespace AnomalyMeta.Service.Tests;

/// <summary>The service process itself, started the way an operator starts it.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task A_wrong_database_name_is_one_clear_line_and_exit_code_2()
    {
        var fixture = new PostgresFixture();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AnomalyMeta.Service.dll"));
        start.Environment["ConnectionStrings__Postgres"] = fixture.ConnectionStringFor("anomalymeta_no_such_database");
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, process.ExitCode);
        var lines = (await error).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.Contains("'anomalymeta_no_such_database'", line, StringComparison.Ordinal);
        Assert.Empty(await output);
    }
}
