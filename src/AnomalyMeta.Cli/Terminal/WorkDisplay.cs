using AnomalyMeta.Cli.Commands;
using AnomalyMeta.Core.Work;
using Serilog.Events;
using Spectre.Console;

namespace AnomalyMeta.Cli.Terminal;

/// <summary>
/// Shows a command's long work on stderr while it runs, so stdout keeps only the lines operators script: a Spectre.Console
/// bar with rate and time left when stderr is a terminal, plain progress lines (<see cref="PlainProgress"/>) otherwise, so
/// CI logs and scripts read them as lines, not as redrawn screens.
/// </summary>
internal static class WorkDisplay
{
    /// <summary>True when stderr is a terminal that can redraw a bar.</summary>
    public static bool Interactive =>
        !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is not "dumb";

    public static async Task<T> RunAsync<T>(string command, Func<IProgress<WorkProgress>, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (!Interactive)
        {
            return await work(new PlainProgress(command, Console.Error, TimeProvider.System));
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        // The per-batch log lines would tear the bar apart: while it is drawn, only warnings and errors are logged.
        var level = CliHost.LogLevel.MinimumLevel;
        CliHost.LogLevel.MinimumLevel = LogEventLevel.Warning;
        try
        {
            return await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new CountColumn(), new RateColumn(),
                    new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    var bar = new BarProgress(command, context);
                    var result = await work(bar);
                    bar.Complete();
                    return result;
                });
        }
        finally
        {
            CliHost.LogLevel.MinimumLevel = level;
        }
    }

    /// <summary>One bar per stage of the work; a stage ends when the next one reports.</summary>
    private sealed class BarProgress(string command, ProgressContext context) : IProgress<WorkProgress>
    {
        private readonly Lock _lock = new();
        private ProgressTask? _task;
        private string? _stage;

        public void Report(WorkProgress value)
        {
            lock (_lock)
            {
                if (value.Stage != _stage)
                {
                    Finish(_task);
                    _stage = value.Stage;
                    _task = context.AddTask($"{command}: {value.Stage}", autoStart: true, maxValue: Math.Max(1, value.Total ?? 1));
                    _task.Tag = value.Unit;
                }
                var task = _task!;
                task.IsIndeterminate = value.Total is null;
                // A value above the maximum would be cut to it: while the total is unknown, the count is the maximum.
                task.MaxValue = Math.Max(1, value.Total ?? value.Done);
                task.Value = value.Done;
                if (value.Total is long end && value.Done >= end)
                {
                    task.StopTask();
                }
            }
        }

        /// <summary>The work returned: its last stage is complete, whether its total was known or not.</summary>
        public void Complete()
        {
            lock (_lock)
            {
                Finish(_task);
            }
        }

        private static void Finish(ProgressTask? task)
        {
            if (task is null || task.IsFinished)
            {
                return;
            }
            // A stage whose total was never known is complete when the next one starts.
            task.IsIndeterminate = false;
            task.MaxValue = Math.Max(1, task.Value);
            task.Value = task.MaxValue;
            task.StopTask();
        }
    }

    /// <summary>"done of total unit", or "done unit" while the total is not known.</summary>
    private sealed class CountColumn : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.IsIndeterminate ? $"{task.Value:N0} {task.Tag}" : $"{task.Value:N0} of {task.MaxValue:N0} {task.Tag}");
    }

    /// <summary>Units per second, in the stage's own unit (series/s, readings/s, models/s).</summary>
    private sealed class RateColumn : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double speed ? $"{speed:N0} {task.Tag}/s" : "", new Style(Color.Grey));
    }
}
