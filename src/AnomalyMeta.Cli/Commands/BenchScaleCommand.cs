using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Benchmarks;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Quartz;

namespace AnomalyMeta.Cli.Commands;

/// <summary>
/// `anomalymeta bench scale`: the mission's size end to end in a throwaway database: a generated fleet of the demo's
/// mix (weekly seasons included) ingested, clustered, trained, scored for its last day, then checked for exactly one
/// outcome per series and no duplicated flag. A table per phase, and JSON with the issue's keys.
/// </summary>
internal static class BenchScaleCommand
{
    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    public static Command Create()
    {
        var series = new Option<int>("--series") { Description = "Series to generate.", DefaultValueFactory = _ => 100_000 };
        var days = new Option<int>("--days") { Description = "Days of history before the scored day (22 or more finds weekly seasons).", DefaultValueFactory = _ => 22 };
        var instances = new Option<int>("--instances")
        {
            Description = "Scoring processes: 1 scores in this process; more start that many service instances of one Quartz cluster and split the run into shards.",
            DefaultValueFactory = _ => 1,
        };
        var shards = new Option<int>("--shards") { Description = "Shards of the run when --instances is above 1.", DefaultValueFactory = _ => 16 };
        var batchSize = new Option<int?>("--batch-size") { Description = "Series per batch in the service instances (default: theirs, 4,096); small batches make a shard many commits long." };
        var killOne = new Option<bool>("--kill-one") { Description = "SIGKILL one service instance once it is scoring a shard (needs --instances 2 or more)." };
        var iterations = new Option<int>("--iterations") { Description = "Meta-training iterations per cluster.", DefaultValueFactory = _ => 100 };
        var json = new Option<FileInfo?>("--json") { Description = "Write the figures as JSON to this file." };
        var database = new Option<string?>("--database") { Description = "Throwaway database to create and drop (default: the configured one's name + _scale)." };
        var keep = new Option<bool>("--keep") { Description = "Keep the database afterwards (to time `rescore` of the same day on it, or to look at it)." };
        var command = new Command("scale", "Generate, ingest, cluster, train and score N series; check exactly-once; time every phase.")
        {
            series, days, instances, shards, killOne, iterations, json, database, batchSize, keep,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(series), parse.GetValue(days), parse.GetValue(instances),
            parse.GetValue(shards), parse.GetValue(killOne), parse.GetValue(iterations), parse.GetValue(json), parse.GetValue(database),
            parse.GetValue(batchSize), parse.GetValue(keep), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(int seriesCount, int days, int instances, int shardCount, bool killOne, int iterations, FileInfo? json,
        string? database, int? batchSize, bool keep, CancellationToken cancellationToken)
    {
        if (seriesCount < 100 || days < 14 || iterations < 1)
        {
            throw new ArgumentException($"bench scale: --series at least 100 (found {seriesCount}), --days at least 14 (found {days}), --iterations at least 1.");
        }
        if (instances < 1 || (killOne && instances < 2) || shardCount is < 1 or > 1023)
        {
            throw new ArgumentException($"bench scale: --instances at least 1 (found {instances}), --kill-one needs 2 or more, --shards in 1..1023 (found {shardCount}).");
        }
        var fleet = new SyntheticFleetOptions { SeriesCount = seriesCount, HistoryDays = days, Seed = 42 };
        var target = ThrowawayDatabase.Beside("scale");
        if (database is not null)
        {
            target.Database = database;
        }
        await ThrowawayDatabase.RecreateAsync(target, cancellationToken);
        // This process only plants the trigger: its copy of the morning schedule must not fire either.
        using var host = CliHost.Build(target.ConnectionString, settings: new Dictionary<string, string?> { ["Scheduling:Cron"] = "0 0 6 1 1 ?" });
        var services = host.Services;
        var phases = new List<(string Name, double Seconds, long Rows)>();
        var clock = Stopwatch.StartNew();
        void Phase(string name, long rows)
        {
            phases.Add((name, clock.Elapsed.TotalSeconds, rows));
            Console.Error.WriteLine($"bench scale: {name} done in {clock.Elapsed.TotalSeconds:F1} s");
            clock.Restart();
        }

        long dayRows = await services.GetRequiredService<SyntheticFleetIngest>().IngestAsync(new SyntheticSeriesGenerator(fleet), cancellationToken);
        Phase("ingest", dayRows);

        var lastHistoryDay = fleet.ScoringDay.AddDays(-1);
        var training = services.GetRequiredService<TrainingOptions>();
        training.Iterations = iterations;
        training.HistoryDays = days;
        var clustering = await services.GetRequiredService<ClusteringStep>().RunAsync(lastHistoryDay, days, cancellationToken);
        Phase("cluster", seriesCount);
        if (clustering.Phases is { } clusteringPhases)
        {
            Console.Error.WriteLine($"bench scale: cluster read wait {clusteringPhases.ReadWait:F1} s, periods and features {clusteringPhases.Profile:F1} s, "
                + $"fit and assign {clusteringPhases.Fit:F1} s, save {clusteringPhases.Save:F1} s");
        }

        var trained = await services.GetRequiredService<MetaTrainingStep>().TrainAsync(lastHistoryDay, training, cancellationToken);
        Phase("train", trained.Trained.Count);

        var request = new ScoringRequest(RunKind.Nightly, fleet.ScoringDay, "bench scale");
        ScoringSummary? summary = null;
        Cluster? cluster = null;
        if (instances == 1)
        {
            summary = await services.GetRequiredService<MorningScoring>().RunAsync(request, cancellationToken);
        }
        else
        {
            cluster = await ScoreOnClusterAsync(services, target.ConnectionString, request, instances, shardCount, killOne, batchSize, cancellationToken);
        }
        var run = (await services.GetRequiredService<RunLedger>().GetAsync(summary?.RunId ?? cluster!.RunId, cancellationToken))!;
        Phase("score", run.SeriesScored + run.SeriesSkipped);

        await using var connection = new NpgsqlConnection(target.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var check = await connection.QuerySingleAsync<(long Rows, long Distinct, long Anomalies, long DistinctAnomalies, long Counted, long Weekly)>(
            """
            select (select count(*) from run_series where run_id = @runId),
                   (select count(distinct series_id) from run_series where run_id = @runId),
                   (select count(*) from anomaly where as_of = @asOf),
                   (select count(distinct (series_id, ts)) from anomaly where as_of = @asOf),
                   (select coalesce(sum(anomaly_count), 0) from run_series where run_id = @runId),
                   (select count(*) from series s join cluster c using (cluster_version, cluster_id) where c.secondary_period = 168)
            """, new { runId = run.RunId, asOf = fleet.ScoringDay });
        bool exactlyOnce = run.Status == RunStatus.Succeeded && check.Rows == seriesCount && check.Distinct == seriesCount
            && check.Anomalies == check.DistinctAnomalies && check.Anomalies == check.Counted && run.SeriesScored + run.SeriesSkipped == seriesCount;
        double scoring = phases.Single(p => p.Name == "score").Seconds;
        double peakRss = cluster is null ? ProcessMemory.PeakResidentMegabytes() : cluster.PeakMegabytes.Values.Max();

        Console.WriteLine($"| phase | seconds | rows | rows/s |");
        Console.WriteLine($"| --- | --- | --- | --- |");
        foreach (var (name, seconds, rows) in phases)
        {
            Console.WriteLine($"| {name} | {seconds:F1} | {rows:N0} | {rows / seconds:N0} |");
        }
        var p = summary?.Phases ?? new ScoringPhases(TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);
        double accounted = Math.Max(1e-9, (p.Read + p.Encode + p.Adapt + p.Score + p.Write).TotalSeconds);
        Console.WriteLine();
        Console.WriteLine($"| figure | value |");
        Console.WriteLine($"| --- | --- |");
        Console.WriteLine($"| series | {seriesCount:N0} ({dayRows:N0} day rows, {days} days of history) |");
        Console.WriteLine($"| clusters | {clustering.Clusters.Count}; series in weekly (K = 168) clusters: {check.Weekly:N0} ({100.0 * check.Weekly / seriesCount:F1} %) |");
        if (clustering.Phases is { } c)
        {
            Console.WriteLine($"| clustering seconds: read wait / periods and features / fit and assign / save | {c.ReadWait:F1} / {c.Profile:F1} / {c.Fit:F1} / {c.Save:F1} |");
        }
        Console.WriteLine($"| scoring | {scoring:F1} s, {seriesCount / scoring:N0} series/s; {run.SeriesScored:N0} scored, {run.AnomaliesWritten:N0} anomalies |");
        if (summary is not null)
        {
            Console.WriteLine($"| scoring time: read / encode / adapt / score / write | {Share(p.Read)} / {Share(p.Encode)} / {Share(p.Adapt)} / {Share(p.Score)} / {Share(p.Write)} |");
        }
        Console.WriteLine($"| exactly once | {exactlyOnce} ({check.Rows:N0} run_series rows, {check.Distinct:N0} series; {check.Anomalies:N0} anomalies, {check.DistinctAnomalies:N0} distinct) |");
        if (cluster is null)
        {
            Console.WriteLine($"| peak RSS | {peakRss:N0} MB (one process) |");
            Console.WriteLine("| instances | 1 (in this process) |");
        }
        else
        {
            Console.WriteLine($"| peak RSS per instance | {string.Join(", ", cluster.PeakMegabytes.Select(x => $"{x.Key}: {x.Value:N0} MB"))} |");
            Console.WriteLine($"| instances | {instances}, {shardCount} shards; shards finished per instance: {string.Join(", ", cluster.ShardsByInstance.Select(x => $"{x.Key}: {x.Value}"))} |");
            if (cluster.Killed is string killed)
            {
                Console.WriteLine($"| killed | {killed} after {cluster.KilledAfterSeconds:F1} s of scoring; the {cluster.ShardsOfKilled} shard(s) it was scoring finished by {string.Join(", ", cluster.RecoveredBy)} |");
            }
            Console.WriteLine($"| service logs | {cluster.LogDirectory} |");
        }

        if (json is not null)
        {
            var figures = new Dictionary<string, object>
            {
                ["series"] = seriesCount,
                ["ingest_seconds"] = phases.Single(x => x.Name == "ingest").Seconds,
                ["cluster_seconds"] = phases.Single(x => x.Name == "cluster").Seconds,
                ["train_seconds"] = phases.Single(x => x.Name == "train").Seconds,
                ["scoring_seconds"] = scoring,
                ["series_per_second"] = seriesCount / scoring,
                ["peak_rss_mb"] = peakRss,
                ["exactly_once"] = exactlyOnce,
                ["instances"] = instances,
                ["shards"] = cluster is null ? 1 : shardCount,
                ["killed_instance"] = cluster?.Killed ?? "",
                ["recovered_shards"] = cluster?.ShardsOfKilled ?? 0,
                ["recovered_by_survivor"] = Recovered(cluster) && cluster?.Killed is not null,
                ["peak_rss_mb_per_instance"] = cluster?.PeakMegabytes ?? new Dictionary<string, double> { ["cli"] = peakRss },
                ["day_rows"] = dayRows,
                ["weekly_series"] = check.Weekly,
            };
            if (clustering.Phases is { } phasesOfClustering)
            {
                figures["cluster_phase_seconds"] = new Dictionary<string, double>
                {
                    ["read_wait"] = phasesOfClustering.ReadWait,
                    ["profile"] = phasesOfClustering.Profile,
                    ["fit"] = phasesOfClustering.Fit,
                    ["save"] = phasesOfClustering.Save,
                };
            }
            if (summary is not null)
            {
                // Where the time went is measured inside the scoring process: known only when that is this one.
                figures["scoring_share"] = new Dictionary<string, double>
                {
                    ["read"] = p.Read.TotalSeconds / accounted,
                    ["encode"] = p.Encode.TotalSeconds / accounted,
                    ["adapt"] = p.Adapt.TotalSeconds / accounted,
                    ["score"] = p.Score.TotalSeconds / accounted,
                    ["write"] = p.Write.TotalSeconds / accounted,
                };
            }
            await File.WriteAllTextAsync(json.FullName, JsonSerializer.Serialize(figures, IndentedJson), cancellationToken);
        }
        if (keep)
        {
            Console.Error.WriteLine($"bench scale: kept database {target.Database} (scored day {fleet.ScoringDay:yyyy-MM-dd})");
        }
        else
        {
            await ThrowawayDatabase.DropAsync(target, CancellationToken.None);
        }
        return exactlyOnce && Recovered(cluster) ? 0 : 1;

        string Share(TimeSpan part) => $"{100 * part.TotalSeconds / accounted:F0} %";
    }

    /// <summary>True unless an instance was killed and no other instance finished a shard it was scoring.</summary>
    private static bool Recovered(Cluster? cluster) => cluster?.Killed is null || cluster.ShardsOfKilled > 0;

    /// <summary>What the cluster did with a run: who finished which shards, who was killed and who finished its shards.</summary>
    private sealed record Cluster(long RunId, IReadOnlyDictionary<string, double> PeakMegabytes, IReadOnlyDictionary<string, int> ShardsByInstance,
        string? Killed, double KilledAfterSeconds, int ShardsOfKilled, IReadOnlyList<string> RecoveredBy, string LogDirectory);

    /// <summary>
    /// Starts the service instances, plants a trigger of the morning job for the run's date in the clustered job store
    /// (an instance fires it and plans the shards, and the instances share them), optionally SIGKILLs the instance of the
    /// first running shard once the run has committed series, and waits for the run to end.
    /// </summary>
    private static async Task<Cluster> ScoreOnClusterAsync(IServiceProvider services, string connectionString, ScoringRequest request, int instances,
        int shardCount, bool killOne, int? batchSize, CancellationToken cancellationToken)
    {
        string logs = Path.Combine(Path.GetTempPath(), $"anomalymeta-bench-scale-{Environment.ProcessId}");
        await using var cluster = ServiceInstances.Start(instances, connectionString, shardCount, logs, batchSize);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var started = Stopwatch.StartNew();
        while (await connection.ExecuteScalarAsync<int>("select count(*) from qrtz_scheduler_state where sched_name = 'anomalymeta'") < instances)
        {
            cluster.Sample();
            if (started.Elapsed > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException($"bench scale: the {instances} service instances did not all join the cluster within 2 minutes; see {logs}.");
            }
            await Task.Delay(200, cancellationToken);
        }
        var scheduler = await services.GetRequiredService<ISchedulerFactory>().GetScheduler(cancellationToken);
        await scheduler.TriggerJob(MorningScoringJob.Key, MorningScoringJob.DataFor(request), cancellationToken);
        var clock = Stopwatch.StartNew();
        string? killed = null;
        double killedAfter = 0;
        while (true)
        {
            cluster.Sample();
            var run = await connection.QuerySingleOrDefaultAsync<(long RunId, string Status, int Done)?>(
                "select run_id, status, series_scored + series_skipped from run where kind = 'nightly' and as_of = @asOf",
                new { asOf = request.AsOf });
            if (run is { Status: "succeeded" or "failed" } finished)
            {
                var shards = (await connection.QueryAsync<string>(
                    "select array_to_string(instances, ' ') from run_shard where run_id = @runId order by shard", new { runId = finished.RunId }))
                    .Select(text => text.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(taken => taken.Length > 0).ToList();
                var byInstance = shards.GroupBy(taken => taken[^1]).ToDictionary(g => g.Key, g => g.Count());
                // Shards the killed instance had taken and did not finish: another instance took them over after it.
                var ofKilled = shards.Where(taken => killed is not null && taken.Contains(killed) && taken[^1] != killed).ToList();
                return new Cluster(finished.RunId, new Dictionary<string, double>(cluster.PeakMegabytes), byInstance, killed, killedAfter, ofKilled.Count,
                    [.. ofKilled.Select(taken => taken[^1]).Distinct()], logs);
            }
            if (killOne && killed is null && run is { Done: > 0 } running)
            {
                // Mid-shard: a running shard that has committed some of its series but not all (killed between two
                // shards, the instance would leave nothing to recover).
                string? victim = await connection.ExecuteScalarAsync<string?>(
                    """
                    select s.instances[cardinality(s.instances)] from run_shard s
                    where s.run_id = @runId and s.status = 'running'
                      and exists (select 1 from run_series rs where rs.run_id = @runId and rs.series_id between s.first_series_id and s.last_series_id)
                    order by s.shard limit 1
                    """,
                    new { runId = running.RunId });
                if (victim is not null)
                {
                    cluster.Kill(victim);
                    killed = victim;
                    killedAfter = clock.Elapsed.TotalSeconds;
                    Console.Error.WriteLine($"bench scale: killed {victim} (SIGKILL) after {killedAfter:F1} s of scoring");
                }
            }
            if (clock.Elapsed > TimeSpan.FromHours(1))
            {
                throw new TimeoutException($"bench scale: the run of {request.AsOf:yyyy-MM-dd} did not end within an hour; see {logs}.");
            }
            await Task.Delay(200, cancellationToken);
        }
    }
}
