using AnomalyMeta.Scoring;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Drift;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Service.Alerts;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Quartz;

namespace AnomalyMeta.Service.Hosting;

/// <summary>Wiring shared by the service host and the CLI: database, stores, scoring and the Quartz scheduler.</summary>
public static class AnomalyMetaServices
{
    /// <summary>The health checks readiness runs (liveness runs none: a live process answers).</summary>
    public const string ReadyTag = "ready";

    public static IServiceCollection AddAnomalyMeta(this IServiceCollection services, IConfiguration configuration)
    {
        string connectionString = PostgresSettings.Resolve(configuration.GetConnectionString("Postgres"));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ => PostgresSettings.CreateDataSource(connectionString));
        // /health answers for the database the service depends on: down or wrong, the service is not healthy.
        services.AddHealthChecks()
            .AddNpgSql(sp => sp.GetRequiredService<NpgsqlDataSource>(), name: "postgres", tags: [ReadyTag])
            .AddCheck<ModelsHealthCheck>("models", tags: [ReadyTag]);
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<SeriesRepository>();
        services.AddSingleton<ModelStore>();
        services.AddSingleton<ClusteringStore>();
        services.AddSingleton<RunLedger>();
        services.AddSingleton<Partitions>();
        services.AddSingleton<ModelLifecycle>();
        services.AddSingleton<JobRuns>();
        services.AddSingleton<DriftQueries>();
        services.AddSingleton<DriftCheck>();
        services.AddOptions<DriftOptions>().Bind(configuration.GetSection(DriftOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DriftOptions>>(new ProblemsValidator<DriftOptions>(o => o.Problems()));
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<DriftOptions>>().Value);
        services.AddOptions<RetentionOptions>().Bind(configuration.GetSection(RetentionOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RetentionOptions>>(new ProblemsValidator<RetentionOptions>(o => o.Problems()));
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<RetentionOptions>>().Value);
        // Settings are checked when the host starts (ValidateOnStart), each problem naming its setting.
        services.AddOptions<ScoringOptions>().Bind(configuration.GetSection(ScoringOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ScoringOptions>>(new ProblemsValidator<ScoringOptions>(o => o.Problems()));
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<ScoringOptions>>().Value);
        services.AddSingleton<AnomalyQueries>();
        services.AddSingleton<SeriesDayQueries>();
        services.AddSingleton<DashboardQueries>();
        services.AddSingleton(configuration.GetSection(TrainingOptions.Section).Get<TrainingOptions>() ?? new TrainingOptions());
        services.AddSingleton<MorningScoring>();
        services.AddSingleton<ClusteringStep>();
        services.AddSingleton<MetaTrainingStep>();
        services.AddSingleton<SyntheticFleetIngest>();
        services.AddSingleton<CsvIngest>();
        services.AddSingleton<SeriesTagStore>();
        services.AddSingleton<TagImport>();
        services.AddSingleton<FeedbackStore>();
        services.AddSingleton<MuteStore>();
        services.AddSingleton<ObservationStaging>();
        services.AddSingleton<StagingIngest>();
        services.AddAlerts(configuration);

        var scheduling = configuration.GetSection(MorningScheduleOptions.Section).Get<MorningScheduleOptions>() ?? new MorningScheduleOptions();
        scheduling.Validate();
        services.AddSingleton(scheduling);
        services.AddQuartz(quartz =>
        {
            quartz.ConfigureScheduler(scheduler =>
            {
                scheduler.InstanceName = "anomalymeta";
                scheduler.IdleWaitTime = TimeSpan.FromSeconds(scheduling.IdleWaitSeconds);
                if (scheduling.InstanceId is { Length: > 0 } instanceId)
                {
                    scheduler.InstanceId = instanceId;
                }
                else
                {
                    scheduler.GenerateInstanceId = true;
                }
            });
            // The scheduler's state lives in PostgreSQL (tables from db/), so a restart loses no trigger and
            // several service instances share one schedule without running the job twice.
            quartz.UsePersistentStore(store =>
            {
                store.UsePostgres(connectionString);
                store.UseSystemTextJsonSerializer();
                store.UseClustering(clustering =>
                {
                    clustering.Enabled = true;
                    clustering.CheckinInterval = TimeSpan.FromSeconds(scheduling.CheckinSeconds);
                    clustering.CheckinMisfireThreshold = TimeSpan.FromSeconds(scheduling.CheckinSeconds);
                });
                store.ConfigureStore(ado =>
                {
                    ado.TablePrefix = "qrtz_";
                    // Job data as strings: readable in the database and safe across versions of the job class.
                    ado.StoreJobDataAsStrings = true;
                    // The tables come from db/ with every other migration; Quartz only checks they are there.
                    ado.SchemaProvisioning = SchemaProvisioning.Validate;
                });
            });
            quartz.UseDefaultThreadPool(pool => pool.MaxConcurrency = scheduling.MaxConcurrency);
            quartz.AddJob<PartitionMaintenanceJob>(job => job.WithIdentity(PartitionMaintenanceJob.Key).StoreDurably().RequestRecovery());
            quartz.AddTrigger(trigger => trigger
                .ForJob(PartitionMaintenanceJob.Key)
                .WithIdentity("partition-maintenance", "anomalymeta")
                .WithCronSchedule(scheduling.MaintenanceCron, cron => cron
                    .InTimeZone(scheduling.Zone)
                    .WithMisfireInstruction(CronTriggerMisfireInstruction.FireAndProceed)));
            // Once at start too: a service started after a long stop (or the first time) makes this month's partitions now.
            quartz.AddTrigger(trigger => trigger
                .ForJob(PartitionMaintenanceJob.Key)
                .WithIdentity("partition-maintenance-at-start", "anomalymeta")
                .StartNow());
            foreach (var (key, cron) in new[] { (AssignNewSeriesJob.Key, scheduling.AssignCron), (RetrainJob.Key, scheduling.RetrainCron), (DriftCheckJob.Key, scheduling.DriftCron) })
            {
                quartz.AddTrigger(trigger => trigger
                    .ForJob(key)
                    .WithIdentity(key.Name, "anomalymeta")
                    .WithCronSchedule(cron, schedule => schedule
                        .InTimeZone(scheduling.Zone)
                        .WithMisfireInstruction(CronTriggerMisfireInstruction.FireAndProceed)));
            }
            quartz.AddJob<AssignNewSeriesJob>(job => job.WithIdentity(AssignNewSeriesJob.Key).StoreDurably().RequestRecovery());
            quartz.AddJob<RetrainJob>(job => job.WithIdentity(RetrainJob.Key).StoreDurably().RequestRecovery());
            quartz.AddJob<DriftCheckJob>(job => job.WithIdentity(DriftCheckJob.Key).StoreDurably().RequestRecovery());
            quartz.AddJob<MorningScoringJob>(job => job.WithIdentity(MorningScoringJob.Key).StoreDurably().RequestRecovery());
            quartz.AddJob<DashboardSummaryJob>(job => job.WithIdentity(DashboardSummaryJob.Key).StoreDurably().RequestRecovery());
            quartz.AddJobListener<AfterSucceededRuns>(
                [Matchers.Key(MorningScoringJob.Key), GroupMatcher<JobKey>.GroupEquals(ScoringShardJob.Group)]);
            quartz.AddTrigger(trigger => trigger
                .ForJob(MorningScoringJob.Key)
                .WithIdentity("morning", "anomalymeta")
                .WithCronSchedule(scheduling.Cron, cron => cron
                    .InTimeZone(scheduling.Zone)
                    // A morning missed while the service was down fires once when it is back, not once per missed day.
                    .WithMisfireInstruction(CronTriggerMisfireInstruction.FireAndProceed)));
            quartz.AddAlertDelivery(configuration);
        });
        return services;
    }
}
