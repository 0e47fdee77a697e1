using AnomalyMeta.Scoring;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Quartz;

namespace AnomalyMeta.Service.Hosting;

/// <summary>Wiring shared by the service host and the CLI: database, stores, scoring and the Quartz scheduler.</summary>
public static class AnomalyMetaServices
{
    public static IServiceCollection AddAnomalyMeta(this IServiceCollection services, IConfiguration configuration)
    {
        string connectionString = PostgresSettings.Resolve(configuration.GetConnectionString("Postgres"));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        // /health answers for the database the service depends on: down or wrong, the service is not healthy.
        services.AddHealthChecks().AddNpgSql(sp => sp.GetRequiredService<NpgsqlDataSource>(), name: "postgres");
        services.AddSingleton<SeriesRepository>();
        services.AddSingleton<ModelStore>();
        services.AddSingleton<ClusteringStore>();
        services.AddSingleton<RunLedger>();
        services.AddSingleton(configuration.GetSection(ScoringOptions.Section).Get<ScoringOptions>() ?? new ScoringOptions());
        services.AddSingleton<AnomalyQueries>();
        services.AddSingleton(configuration.GetSection(TrainingOptions.Section).Get<TrainingOptions>() ?? new TrainingOptions());
        services.AddSingleton<MorningScoring>();
        services.AddSingleton<ClusteringStep>();
        services.AddSingleton<MetaTrainingStep>();
        services.AddSingleton<SyntheticFleetIngest>();
        services.AddSingleton<CsvIngest>();

        var scheduling = configuration.GetSection(MorningScheduleOptions.Section).Get<MorningScheduleOptions>() ?? new MorningScheduleOptions();
        scheduling.Validate();
        services.AddQuartz(quartz =>
        {
            quartz.ConfigureScheduler(scheduler =>
            {
                scheduler.InstanceName = "anomalymeta";
                scheduler.GenerateInstanceId = true;
            });
            // The scheduler's state lives in PostgreSQL (tables from db/), so a restart loses no trigger and
            // several service instances share one schedule without running the job twice.
            quartz.UsePersistentStore(store =>
            {
                store.UsePostgres(connectionString);
                store.UseSystemTextJsonSerializer();
                store.UseClustering(clustering => clustering.Enabled = true);
                store.ConfigureStore(ado =>
                {
                    ado.TablePrefix = "qrtz_";
                    // Job data as strings: readable in the database and safe across versions of the job class.
                    ado.StoreJobDataAsStrings = true;
                    // The tables come from db/ with every other migration; Quartz only checks they are there.
                    ado.SchemaProvisioning = SchemaProvisioning.Validate;
                });
            });
            quartz.AddJob<MorningScoringJob>(job => job.WithIdentity(MorningScoringJob.Key).StoreDurably());
            quartz.AddTrigger(trigger => trigger
                .ForJob(MorningScoringJob.Key)
                .WithIdentity("morning", "anomalymeta")
                .WithCronSchedule(scheduling.Cron, cron => cron
                    .InTimeZone(TimeZoneInfo.FindSystemTimeZoneById(scheduling.TimeZone))));
        });
        return services;
    }
}
