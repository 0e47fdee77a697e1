using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace AnomalyMeta.Benchmarks.Dashboard;

/// <summary>One query's latency under load, in milliseconds, as wrk measured it.</summary>
public sealed record WrkFigures(string Query, long Requests, double RequestsPerSecond, double P50Ms, double P95Ms, double P99Ms, double MaxMs, long Errors);

/// <summary>
/// Drives HTTP GETs with wrk (Debian's package) at a fixed number of connections: each request takes one of the
/// given paths at random, so a query is measured over many days, series and filters rather than one cached row.
/// wrk prints p50/p75/p90/p99 of its own; the Lua <c>done</c> hook reads p50, p95 and p99 from its full histogram.
/// </summary>
public static class WrkLoad
{
    /// <summary>Where wrk is expected; override with ANOMALYMETA_WRK.</summary>
    public static string Executable => Environment.GetEnvironmentVariable("ANOMALYMETA_WRK") ?? "wrk";

    public static async Task<WrkFigures> RunAsync(string query, Uri baseUrl, IReadOnlyList<string> paths, int connections, int threads,
        TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentOutOfRangeException.ThrowIfZero(paths.Count);
        string script = Path.Combine(Path.GetTempPath(), $"anomalymeta-wrk-{Guid.NewGuid():N}.lua");
        await File.WriteAllTextAsync(script, Script(paths), cancellationToken);
        try
        {
            var start = new ProcessStartInfo(Executable)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string argument in new[]
            {
                "-t", threads.ToString(CultureInfo.InvariantCulture), "-c", connections.ToString(CultureInfo.InvariantCulture),
                "-d", $"{(int)duration.TotalSeconds}s", "--timeout", "10s", "-s", script, baseUrl.ToString(),
            })
            {
                start.ArgumentList.Add(argument);
            }
            using var process = Process.Start(start)
                ?? throw new InvalidOperationException($"{Executable} did not start: apt-get install -y wrk");
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            string output = await stdout;
            string? line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
            if (process.ExitCode != 0 || line is null)
            {
                throw new InvalidOperationException($"wrk exited with {process.ExitCode} without its figures: {output} {await stderr}");
            }
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            // requests, duration µs, p50 µs, p95 µs, p99 µs, max µs, errors (connect, read, write, timeout, HTTP status >= 400)
            return new WrkFigures(query, (long)f[0], f[0] / (f[1] / 1e6), f[2] / 1000, f[3] / 1000, f[4] / 1000, f[5] / 1000, (long)f[6]);
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static string Script(IReadOnlyList<string> paths)
    {
        var lua = new StringBuilder("local paths = {\n");
        foreach (string path in paths)
        {
            lua.Append("  \"").Append(path.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append("\",\n");
        }
        lua.Append(
            """
            }
            local thread_id = 0
            setup = function(thread)
              thread_id = thread_id + 1
              thread:set("seed", thread_id)
            end
            init = function(args)
              math.randomseed(seed or 1)
            end
            request = function()
              return wrk.format("GET", paths[math.random(#paths)])
            end
            done = function(summary, latency, requests)
              local e = summary.errors
              io.write(string.format("RESULT %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
                latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
                e.connect + e.read + e.write + e.timeout + e.status))
            end

            """);
        return lua.ToString();
    }
}
