using System.CommandLine;
using System.Globalization;
using AnomalyMeta.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Cli.Commands;

/// <summary>
/// <c>anomalymeta models [--all]</c>, <c>models pin</c>, <c>models rollback</c>, <c>models unpin</c>, <c>models jobs</c>:
/// which clustering is live and which model scores each cluster, an operator's pins and rollbacks, and the ledger of
/// the maintenance jobs.
/// </summary>
internal static class ModelCommands
{
    public static Command Create()
    {
        var all = new Option<bool>("--all") { Description = "Every clustering's models, not only the live one's and newer." };
        var models = new Command("models", "List clusterings and their models: trained when, on what, meta-loss, live, scoring, pinned.") { all };
        models.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var lines = await host.Services.GetRequiredService<ModelLifecycle>().ListAsync(parse.GetValue(all), cancellationToken);
            Console.WriteLine("| clustering | cluster | model | version | trained | series | season | meta-loss | live | scoring | pinned |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (var m in lines)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {m.ClusteringVersion} | {m.ClusterId} | {m.ModelId} | {m.ModelVersion} | {m.TrainedAt:yyyy-MM-dd HH:mm} | {m.TrainingSeries} | {m.SeasonLength} | {m.MetaLoss:F4} | {(m.ClusteringLive ? "yes" : "no")} | {(m.Scoring ? "yes" : "")} | {(m.PinnedBy is null ? "" : $"{m.PinnedBy}: {m.PinReason}")} |"));
            }
            return 0;
        });
        models.Subcommands.Add(Pin());
        models.Subcommands.Add(Rollback());
        models.Subcommands.Add(Unpin());
        models.Subcommands.Add(Jobs());
        return models;
    }

    private static Option<string> ReasonOption() => new("--reason") { Description = "Why (kept with the pin).", Required = true };

    private static string Who() => $"cli:{Environment.UserName}";

    private static Command Pin()
    {
        var model = new Option<int>("--model") { Description = "The model to score its cluster with.", Required = true };
        var reason = ReasonOption();
        var command = new Command("pin", "Score a cluster with this model instead of its newest one.") { model, reason };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var pinned = await host.Services.GetRequiredService<ModelLifecycle>().PinAsync(parse.GetValue(model), Who(), parse.GetValue(reason)!, cancellationToken);
            Console.WriteLine($"Cluster {pinned.ClusterId} of clustering {pinned.ClusteringVersion} is scored by model {pinned.ModelId} (version {pinned.ModelVersion}) from the next run.");
            return 0;
        });
        return command;
    }

    private static Command Rollback()
    {
        var clustering = new Option<int>("--clustering") { Description = "The clustering version.", Required = true };
        var cluster = new Option<int>("--cluster") { Description = "The cluster.", Required = true };
        var reason = ReasonOption();
        var command = new Command("rollback", "Pin the model version before the one scoring the cluster now.") { clustering, cluster, reason };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            var pinned = await host.Services.GetRequiredService<ModelLifecycle>().RollBackAsync(parse.GetValue(clustering), parse.GetValue(cluster), Who(),
                parse.GetValue(reason)!, cancellationToken);
            Console.WriteLine($"Cluster {pinned.ClusterId} of clustering {pinned.ClusteringVersion} rolled back to model {pinned.ModelId} (version {pinned.ModelVersion}).");
            return 0;
        });
        return command;
    }

    private static Command Unpin()
    {
        var clustering = new Option<int>("--clustering") { Description = "The clustering version.", Required = true };
        var cluster = new Option<int>("--cluster") { Description = "The cluster.", Required = true };
        var command = new Command("unpin", "Remove a cluster's pin: its newest model scores again.") { clustering, cluster };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            bool removed = await host.Services.GetRequiredService<ModelLifecycle>().UnpinAsync(parse.GetValue(clustering), parse.GetValue(cluster), cancellationToken);
            Console.WriteLine(removed ? "Pin removed." : "That cluster had no pin.");
            return removed ? 0 : 1;
        });
        return command;
    }

    private static Command Jobs()
    {
        var command = new Command("jobs", "The maintenance jobs' ledger: assignments, re-clusterings and retrainings, with what they did.");
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            Console.WriteLine("| id | kind | status | started | finished | by | detail / error |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
            foreach (var job in await host.Services.GetRequiredService<JobRuns>().RecentAsync(50, cancellationToken))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {job.JobRunId} | {job.Kind} | {job.Status} | {job.StartedAt:yyyy-MM-dd HH:mm:ss} | {job.FinishedAt:HH:mm:ss} | {job.TriggeredBy} | {job.Error ?? job.Detail} |"));
            }
            return 0;
        });
        return command;
    }
}
