using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace AnomalyMeta.Cli.Commands;

/// <summary>
/// Service processes of one Quartz cluster on this machine, for the benchmarks that measure the service as it runs in
/// production, in processes of its own (`bench scale --instances`, `bench ingest-http`, `bench dashboard`): the built
/// service (copied beside this tool by the project reference) started with its own instance id, each one's peak RSS
/// sampled while it runs, one killed with SIGKILL on request. Their logs go to files, not to this console.
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
    /// <paramref name="url"/> is where the one instance listens when the caller talks to it (default: any free port);
    /// <paramref name="settings"/> are more settings, as environment variables.
    /// </summary>
    public static ServiceInstances Start(int count, string connectionString, int shards, string logDirectory, int? batchSize = null, string? url = null,
        IReadOnlyDictionary<string, string>? settings = null)
    {
        string service = Path.Combine(AppContext.BaseDirectory, "AnomalyMeta.Service.dll");
        if (!File.Exists(service))
        {
            throw new FileNotFoundException($"The service is not beside this tool ({service}); build the solution first.", service);
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
            foreach (var (name, value) in settings ?? new Dictionary<string, string>())
            {
                start.Environment[name] = value;
            }
            var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {service}.");
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
                throw new InvalidOperationException($"Service instance {id} exited with code {process.ExitCode}; see {log}.");
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

    /// <summary>A TCP port nothing listens on now, for an instance to listen on.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Waits until <paramref name="baseUrl"/> answers /health/live, sampling the instances meanwhile (an instance that
    /// exits fails the wait with its log named); a timeout names the log folder.
    /// </summary>
    public async Task WaitLiveAsync(Uri baseUrl, TimeSpan limit, string logDirectory, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(2) };
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < limit)
        {
            Sample();
            try
            {
                using var live = await http.GetAsync(new Uri("/health/live", UriKind.Relative), cancellationToken);
                if (live.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Starting slowly.
            }
            await Task.Delay(250, cancellationToken);
        }
        throw new TimeoutException($"The service did not answer /health/live at {baseUrl} within {limit.TotalSeconds:F0} s; see {logDirectory}.");
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
