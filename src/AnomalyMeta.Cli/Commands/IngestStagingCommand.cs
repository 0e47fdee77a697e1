using System.CommandLine;
using AnomalyMeta.Scoring.Ingest;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Cli.Commands;

/// <summary>`anomalymeta ingest-staging`: merges what an ETL tool loaded into observation_staging, and deletes it.</summary>
internal static class IngestStagingCommand
{
    public static Command Create()
    {
        var command = new Command("ingest-staging",
            "Merge the rows an ETL tool loaded into observation_staging (checked, steps inferred, merged into stored days) and delete them, in one transaction.");
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var report = await host.Services.GetRequiredService<StagingIngest>().MergeAsync(new CsvIngestOptions(), cancellationToken);
            Console.WriteLine($"Merged {report.Rows:N0} staged rows into {report.Series:N0} series: {report.DayRows:N0} day rows; "
                + $"points aggregated (slots with more than one value): {report.AggregatedPoints:N0}; the rows were deleted from observation_staging.");
            return 0;
        });
        return command;
    }
}
