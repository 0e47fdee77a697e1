using AnomalyMeta.Learning;
namespace AnomalyMeta.Benchmarks;

/// <summary>Peak resident set size of this process, for the memory figures of the benchmarks.</summary>
public static class ProcessMemory
{
    /// <summary>VmHWM from /proc/self/status in MiB; falls back to the current working set where /proc is missing.</summary>
    public static double PeakResidentMegabytes()
    {
        const string StatusPath = "/proc/self/status";
        if (File.Exists(StatusPath))
        {
            foreach (var line in File.ReadLines(StatusPath))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var fields = line["VmHWM:".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
                }
            }
        }

        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return process.PeakWorkingSet64 / (1024.0 * 1024.0);
    }
}
