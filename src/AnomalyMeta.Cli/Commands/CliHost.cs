using AnomalyMeta.Service.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;
using Quartz;
using Serilog.Core;
using Serilog.Events;

namespace AnomalyMeta.Cli.Commands;

/// <summary>The generic host the commands run in: the service's wiring, console logging, settings from the usual places.</summary>
internal static class CliHost
{
    /// <summary>The console log's minimum level, raised while a progress bar is drawn (<see cref="Terminal.WorkDisplay"/>).</summary>
    public static LoggingLevelSwitch LogLevel { get; } = new(LogEventLevel.Information);

    /// <summary>ConnectionStrings:Postgres from appsettings.json or the environment, else the local default.</summary>
    public static string ConnectionString()
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .Build();
        return AnomalyMeta.Storage.PostgresSettings.Resolve(configuration.GetConnectionString("Postgres"));
    }

    /// <param name="connectionString">Overrides ConnectionStrings:Postgres (the demo runs in its own database).</param>
    /// <param name="withScheduler">Also run the Quartz scheduler while the host runs (the demo fires the morning job through it).</param>
    /// <param name="settings">Settings over everything else (a benchmark's schedule).</param>
    public static IHost Build(string? connectionString = null, bool withScheduler = false, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        builder.Configuration.AddEnvironmentVariables();
        if (connectionString is not null)
        {
            builder.Configuration["ConnectionStrings:Postgres"] = connectionString;
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.Configuration[key] = value;
        }
        builder.Services.AddSerilog(logger => logger
            .MinimumLevel.ControlledBy(LogLevel)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("Quartz", LogEventLevel.Warning)
            .WriteTo.Console(standardErrorFromLevel: LogEventLevel.Verbose,
                outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{NewLine}{Exception}"));
        builder.Services.AddAnomalyMeta(builder.Configuration);
        if (withScheduler)
        {
            builder.Services.AddQuartzHostedService(options => options.WaitForJobsToComplete = true);
        }
        return builder.Build();
    }
}
