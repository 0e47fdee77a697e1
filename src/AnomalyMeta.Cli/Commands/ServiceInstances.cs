using System.Diagnostics;
using System.Globalization;

namespace AnomalyMeta.Cli.Commands;

/// <summary>
/// Service processes of one Quartz cluster on this machine, for `bench scale --instances`: the built service (copied
/// beside this tool by the project reference) started with its own instance id, each one's peak RSS sampled while it
/// runs, one killed with SIGKILL on request. Their logs go to files, not to this console.
/// </summary>
internal sealed class ServiceInstances : IAsyncDisposable
{
    private readonly List<(string Id, Process Process, string Log)> _instances = [];
    private readonly Dictionary<string, double> _peakMegabytes = [];
    private readonly HashSet<string> _killed = [];

    private ServiceInstances()
    {
    }

    /// <summary>Instance ids, in start order.</summary>
    public IReadOnlyList<string> Ids => [.. _instances.Select(i => i.Id)];

    /// <summary>Each instance's largest resident set seen so far, in MiB (VmHWM).</summary>
    public IReadOnlyDictionary<string, double> PeakMegabytes => _peakMegabytes;

    /// <summary>
    /// Starts <paramref name="count"/> instances against <paramref name="connectionString"/>; their morning cron never fires.
    /// <paramref name="url"/> is where the one instance listens when the caller talks to it (default: any free port).
    /// </summary>
    public static ServiceInstances Start(int count, string connectionString, int shards, string logDirectory, int? batchSize = null, string? url = null)
    {
        string service = Path.Combine(AppContext.BaseDirectory, "AnomalyMeta.Service.dll");
        if (!File.Exists(service))
        {
            throw new FileNotFoundException($"bench scale: the service is not beside this tool ({service}); build the solution first.", service);
        }
        Directory.CreateDirectory(logDirectory);
        var instances = new ServiceInstances();
        for (int i = 1; i <= count; i++)
        {
            string id = string.Create(CultureInfo.InvariantCulture, $"bench-{i}");
            string log = Path.Combine(logDirectory, id + ".log");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
            start.ArgumentList.Add(service);
            start.Environment["ConnectionStrings__Postgres"] = connectionString;
            start.Environment["Scheduling__InstanceId"] = id;
            // Failover within seconds, not the production 15: the benchmark waits for it.
            start.Environment["Scheduling__CheckinSeconds"] = "2";
            start.Environment["Scheduling__IdleWaitSeconds"] = "1";
            // 1 January at 06:00: the bench triggers its own run.
            start.Environment["Scheduling__Cron"] = "0 0 6 1 1 ?";
            start.Environment["Scoring__Shards"] = shards.ToString(CultureInfo.InvariantCulture);
            if (batchSize is int size)
            {
                start.Environment["Scoring__BatchSize"] = size.ToString(CultureInfo.InvariantCulture);
            }
            start.Environment["ASPNETCORE_URLS"] = url ?? "http://127.0.0.1:0";
            var process = Process.Start(start) ?? throw new InvalidOperationException($"bench scale: could not start {service}.");
            var writer = new StreamWriter(log) { AutoFlush = true };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (writer) { writer.WriteLine(e.Data); } } };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (writer) { writer.WriteLine(e.Data); } } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            instances._instances.Add((id, process, log));
        }
        return instances;
    }

    /// <summary>Samples each live instance's peak RSS; throws when one exited that was not killed (its log says why).</summary>
    public void Sample()
    {
        foreach (var (id, process, log) in _instances)
        {
            if (_killed.Contains(id))
            {
                continue;
            }
            if (process.HasExited)
            {
                throw new InvalidOperationException($"bench scale: service instance {id} exited with code {process.ExitCode}; see {log}.");
            }
            string status = $"/proc/{process.Id}/status";
            try
            {
                foreach (string line in File.ReadLines(status))
                {
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        double megabytes = long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
                        _peakMegabytes[id] = Math.Max(megabytes, _peakMegabytes.GetValueOrDefault(id));
                    }
                }
            }
            catch (IOException)
            {
                // Exited between the check and the read: the next sample says so.
            }
        }
    }

    /// <summary>The operating system's id of an instance's process (to read its CPU time from /proc).</summary>
    public int ProcessId(string id) => _instances.Single(i => i.Id == id).Process.Id;

    /// <summary>SIGKILL: no shutdown, no unlock, no check-in; the cluster must find out on its own.</summary>
    public void Kill(string id)
    {
        var (_, process, _) = _instances.Single(i => i.Id == id);
        _killed.Add(id);
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (id, process, _) in _instances)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
            process.Dispose();
        }
    }
}
