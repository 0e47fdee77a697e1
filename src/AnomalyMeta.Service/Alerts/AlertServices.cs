using AnomalyMeta.Service.Hosting;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Quartz;

namespace AnomalyMeta.Service.Alerts;

/// <summary>Wiring of alert routing: options, the webhook client and its retries, the delivery job and what fires it.</summary>
public static class AlertServices
{
    public static IServiceCollection AddAlerts(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AlertOptions>().Bind(configuration.GetSection(AlertOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AlertOptions>>(new ProblemsValidator<AlertOptions>(o => o.Problems()));
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<AlertOptions>>().Value);
        services.AddSingleton<AlertDeliveries>();
        services.AddTransient<AlertDispatcher>();
        services.AddTransient<AttemptCounter>();
        var webhook = services.AddHttpClient<AlertWebhook>(client =>
            {
                // The pipeline times each attempt; the client's own 100 s limit would cut the retries short.
                client.Timeout = Timeout.InfiniteTimeSpan;
                client.DefaultRequestHeaders.UserAgent.ParseAdd("AnomalyMeta-Alerts/1");
            });
        webhook.AddResilienceHandler("alert-webhook", (pipeline, context) =>
        {
            var options = context.ServiceProvider.GetRequiredService<AlertOptions>();
            if (options.Attempts > 1)
            {
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = options.Attempts - 1,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = TimeSpan.FromSeconds(options.RetryDelaySeconds),
                    // A receiver's Retry-After is honoured, up to this: a pass must end before the next one is due.
                    MaxDelay = TimeSpan.FromMinutes(1),
                });
            }
            pipeline.AddTimeout(TimeSpan.FromSeconds(options.AttemptTimeoutSeconds));
        });
        // Added after the resilience handler, so it sits inside it and counts every attempt.
        webhook.AddHttpMessageHandler<AttemptCounter>();
        return services;
    }

    /// <summary>The delivery job, fired after each succeeded run (<see cref="AfterSucceededRuns"/>) and every <see cref="AlertOptions.SweepMinutes"/>.</summary>
    public static void AddAlertDelivery(this IQuartzBuilder quartz, IConfiguration configuration)
    {
        var options = configuration.GetSection(AlertOptions.Section).Get<AlertOptions>() ?? new AlertOptions();
        quartz.AddJob<AlertDeliveryJob>(job => job.WithIdentity(AlertDeliveryJob.Key).StoreDurably().RequestRecovery());
        quartz.AddTrigger(trigger => trigger
            .ForJob(AlertDeliveryJob.Key)
            .WithIdentity("alert-sweep", AlertDeliveryJob.Key.Group)
            .StartNow()
            .WithSimpleSchedule(schedule => schedule
                .WithInterval(TimeSpan.FromMinutes(Math.Clamp(options.SweepMinutes, 0.01, 24 * 60)))
                .RepeatForever()
                // Passes missed while the service was down are one pass as soon as it is back, not a burst.
                .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NowWithExistingCount)));
    }
}
