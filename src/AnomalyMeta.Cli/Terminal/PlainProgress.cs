using System.Globalization;
using AnomalyMeta.Core.Work;

namespace AnomalyMeta.Cli.Terminal;

/// <summary>
/// Progress as plain lines, for a log or a script rather than a terminal: one line when a stage starts reporting, at each
/// tenth of its total, every <see cref="Interval"/> while its total is unknown, and when it is done. For example
/// <c>score: scoring 4,096 of 10,000 series (40%), 2,310 series/s, about 3 s left</c>.
/// </summary>
internal sealed class PlainProgress(string command, TextWriter writer, TimeProvider clock) : IProgress<WorkProgress>
{
    /// <summary>Longest silence while a stage's total is not known.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private string? _stage;
    private long _stageStart = clock.GetTimestamp();
    private long _lastLine;
    private int _lastTenth = -1;
    private bool _finished;

    public void Report(WorkProgress value)
    {
        lock (_lock)
        {
            long now = clock.GetTimestamp();
            if (value.Stage != _stage)
            {
                // A stage's rate runs from the end of the one before (or from the start of the command).
                if (_stage is not null)
                {
                    _stageStart = now;
                }
                _stage = value.Stage;
                _lastLine = 0;
                _lastTenth = -1;
                _finished = false;
            }
            bool finished = value.Total is long total && value.Done >= total;
            int tenth = value.Total is long all && all > 0 ? (int)Math.Min(10, value.Done * 10 / all) : -1;
            bool due = finished ? !_finished
                : tenth >= 0 ? tenth > _lastTenth
                : _lastLine == 0 || clock.GetElapsedTime(_lastLine, now) >= Interval;
            if (!due)
            {
                return;
            }
            _lastLine = now;
            _lastTenth = Math.Max(_lastTenth, tenth);
            _finished = finished;
            writer.WriteLine(Line(command, value, clock.GetElapsedTime(_stageStart, now)));
        }
    }

    /// <summary>The line for <paramref name="value"/>, <paramref name="elapsed"/> into its stage.</summary>
    public static string Line(string command, WorkProgress value, TimeSpan elapsed)
    {
        var line = new System.Text.StringBuilder();
        line.Append(CultureInfo.InvariantCulture, $"{command}: {value.Stage} {value.Done:N0}");
        if (value.Total is long total)
        {
            line.Append(CultureInfo.InvariantCulture, $" of {total:N0} {value.Unit} ({(total == 0 ? 100 : 100.0 * value.Done / total):F0}%)");
        }
        else
        {
            line.Append(CultureInfo.InvariantCulture, $" {value.Unit}");
        }
        double seconds = elapsed.TotalSeconds;
        if (seconds > 0 && value.Done > 0)
        {
            double rate = value.Done / seconds;
            line.Append(CultureInfo.InvariantCulture, $", {rate:N0} {value.Unit}/s");
            if (value.Total is long end)
            {
                line.Append(value.Done >= end
                    ? string.Create(CultureInfo.InvariantCulture, $", done in {seconds:F1} s")
                    : string.Create(CultureInfo.InvariantCulture, $", about {Left((end - value.Done) / rate)} left"));
            }
        }
        return line.ToString();
    }

    private static string Left(double seconds) =>
        seconds < 90 ? string.Create(CultureInfo.InvariantCulture, $"{Math.Ceiling(seconds):F0} s")
        : seconds < 90 * 60 ? string.Create(CultureInfo.InvariantCulture, $"{Math.Ceiling(seconds / 60):F0} min")
        : string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600:F1} h");
}
