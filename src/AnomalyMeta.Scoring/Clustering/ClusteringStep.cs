using System.Diagnostics;
using AnomalyMeta.Core.Work;
using AnomalyMeta.Periodicity;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Microsoft.Extensions.Logging;

namespace AnomalyMeta.Scoring.Clustering;

/// <summary>What a clustering pass did, for the `cluster` command and the demo.</summary>
public sealed record ClusteringReport(int Version, IReadOnlyList<ClusterSummary> Clusters, int SeriesCount, int? MovedCount, double Seconds)
{
    /// <summary>Where the seconds went; null when not measured.</summary>
    public ClusteringPhases? Phases { get; init; }
}

/// <summary>
/// Seconds of a clustering pass: waiting for the next batch of histories (what reading ahead did not hide), detecting
/// periods and features, fitting and assigning the clusters, and saving the version with every assignment.
/// </summary>
public sealed record ClusteringPhases(double ReadWait, double Profile, double Fit, double Save);

/// <summary>
/// The periodicity step on what is in PostgreSQL: detects every series' periods, extracts its features, clusters
/// within period groups (ML.NET k-means) and stores the clustering as a new version with every assignment.
/// New series later join the latest clustering through <see cref="AssignNewAsync"/>, without re-clustering.
/// </summary>
public sealed class ClusteringStep(SeriesRepository series, ClusteringStore clusterings, ILogger<ClusteringStep> logger)
{
    private const int BatchSize = 4096;

    public Task<ClusteringReport> RunAsync(DateOnly lastDay, int historyDays, CancellationToken cancellationToken) =>
        RunAsync(lastDay, historyDays, null, cancellationToken);

    /// <summary>A clustering that reports the series read and profiled (periods and features) after each batch.</summary>
    public async Task<ClusteringReport> RunAsync(DateOnly lastDay, int historyDays, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var (profiled, readWait, profiling) = await ProfileAsync(lastDay, historyDays, onlyUnassignedAfter: null, progress, cancellationToken);
        long fitting = Stopwatch.GetTimestamp();
        if (profiled.Count == 0)
        {
            throw new InvalidOperationException($"No series has observations in the {historyDays} days up to {lastDay:yyyy-MM-dd}: nothing to cluster.");
        }
        var profiles = new SeriesProfile[profiled.Count];
        for (int i = 0; i < profiles.Length; i++)
        {
            profiles[i] = profiled[i].Profile;
        }
        var previous = await clusterings.LoadLatestAsync(cancellationToken);
        int version = (previous?.Version ?? 0) + 1;
        var model = new PeriodicityClusterer().Fit(profiles, new ClusteringOptions { Version = version });

        var assignments = new SeriesAssignment[profiled.Count];
        var previousIds = new int[profiled.Count];
        var currentIds = new int[profiled.Count];
        model.Assign(profiles, currentIds);
        for (int i = 0; i < profiled.Count; i++)
        {
            var (seriesId, profile, previousCluster) = profiled[i];
            assignments[i] = ToAssignment(seriesId, currentIds[i], profile);
            previousIds[i] = previousCluster ?? -1;
        }
        // Cluster ids are renumbered by every clustering: moves are counted through the best match of old to new.
        int? moved = previous is null ? null : ClusterMoves.AcrossVersions(previousIds, currentIds).Moved;
        var clusters = Summaries(model);
        long saving = Stopwatch.GetTimestamp();
        // One transaction: a clustering version never exists without its assignments.
        await clusterings.SaveWithAssignmentsAsync(
            new StoredClustering(version, "kmeans-per-period-group", model.ToJson(), profiled.Count, moved, clusters), assignments, cancellationToken);
        logger.Clustered(version, profiled.Count, clusters.Count, moved, clock.ElapsedMilliseconds);
        return new ClusteringReport(version, clusters, profiled.Count, moved, clock.Elapsed.TotalSeconds)
        {
            Phases = new ClusteringPhases(readWait.TotalSeconds, profiling.TotalSeconds,
                Stopwatch.GetElapsedTime(fitting, saving).TotalSeconds, Stopwatch.GetElapsedTime(saving).TotalSeconds),
        };
    }

    /// <summary>Assigns series that the latest clustering does not know yet to its existing clusters.</summary>
    public async Task<int> AssignNewAsync(DateOnly lastDay, int historyDays, CancellationToken cancellationToken)
    {
        var latest = await clusterings.LoadLatestAsync(cancellationToken)
            ?? throw new InvalidOperationException("No clustering yet: run `anomalymeta cluster` first.");
        var model = ClusterModel.FromJson(latest.ParametersJson);
        var (profiled, _, _) = await ProfileAsync(lastDay, historyDays, onlyUnassignedAfter: latest.Version, null, cancellationToken);
        var assignments = new SeriesAssignment[profiled.Count];
        for (int i = 0; i < profiled.Count; i++)
        {
            assignments[i] = ToAssignment(profiled[i].SeriesId, model.Assign(profiled[i].Profile), profiled[i].Profile);
        }
        return await series.UpdateAssignmentsAsync(latest.Version, assignments, cancellationToken);
    }

    /// <summary>
    /// Periods and features of every series (or of those not in clustering <paramref name="onlyUnassignedAfter"/>), with
    /// the time spent waiting for batches and the time spent profiling them.
    /// </summary>
    private async Task<(List<(int SeriesId, SeriesProfile Profile, int? PreviousCluster)> Profiles, TimeSpan ReadWait, TimeSpan Profiling)> ProfileAsync(
        DateOnly lastDay, int historyDays, int? onlyUnassignedAfter, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var result = new List<(int, SeriesProfile, int?)>();
        TimeSpan readWait = TimeSpan.Zero, profiling = TimeSpan.Zero;
        long seen = 0;
        await using var batches = series.ReadHistoryAsync(lastDay, historyDays, BatchSize, cancellationToken).GetAsyncEnumerator(cancellationToken);
        // The next batch is read while this one is profiled: PostgreSQL and the detectors work at the same time.
        var next = batches.MoveNextAsync().AsTask();
        try
        {
            while (true)
            {
                long waiting = Stopwatch.GetTimestamp();
                bool more = await next;
                readWait += Stopwatch.GetElapsedTime(waiting);
                if (!more)
                {
                    break;
                }
                long started = Stopwatch.GetTimestamp();
                var batch = batches.Current;
                next = batches.MoveNextAsync().AsTask();
                var profiles = new SeriesProfile?[batch.Count];
                // Detection and features are per series and CPU-bound: spread the batch over the cores, with detectors
                // (and their buffers) per worker, one per sampling step met.
                Parallel.For(0, batch.Count, () => new Dictionary<int, PeriodDetector>(), (i, _, detectors) =>
                {
                    var history = batch.Series[i];
                    if (history.DaysObserved == 0 || (onlyUnassignedAfter is int version && history.ClusterVersion == version))
                    {
                        return detectors;
                    }
                    var features = new float[SeriesFeatures.Count];
                    // One pass: detection's filled series and periodogram feed the features too.
                    var period = DetectorFor(detectors, history.PointsPerDay).DetectWithFeatures(batch.PointsOf(i), features);
                    profiles[i] = new SeriesProfile(period, features);
                    return detectors;
                }, _ => { });
                for (int i = 0; i < batch.Count; i++)
                {
                    if (profiles[i] is SeriesProfile profile)
                    {
                        result.Add((batch.Series[i].SeriesId, profile, batch.Series[i].ClusterId));
                    }
                }
                profiling += Stopwatch.GetElapsedTime(started);
                seen += batch.Count;
                // The series count is not known before the last batch: the report has no total.
                progress?.Report(new WorkProgress("profiling", seen, null, "series"));
            }
        }
        catch
        {
            // The enumerator is disposed on the way out: let the read in flight end first.
            await next.ContinueWith(_ => { }, TaskScheduler.Default);
            throw;
        }

        return (result, readWait, profiling);
    }

    /// <summary>
    /// A day holds 86400 / step points: a series with fewer than two days of them is too short to call aperiodic.
    /// A batch can mix sampling steps, so the detector is chosen per series.
    /// </summary>
    private static PeriodDetector DetectorFor(Dictionary<int, PeriodDetector> detectors, int pointsPerDay)
    {
        if (!detectors.TryGetValue(pointsPerDay, out var detector))
        {
            detector = new PeriodDetector(new PeriodDetectorOptions { ExpectedPeriod = pointsPerDay });
            detectors[pointsPerDay] = detector;
        }
        return detector;
    }

    private static SeriesAssignment ToAssignment(int seriesId, int clusterId, SeriesProfile profile) => new(
        seriesId,
        clusterId,
        profile.Period.PrimaryPeriod > 1 ? profile.Period.PrimaryPeriod : null,
        profile.Period.SecondaryPeriod > 1 ? profile.Period.SecondaryPeriod : null,
        profile.Period.Status.ToString().ToLowerInvariant(),
        profile.Features);

    private static List<ClusterSummary> Summaries(ClusterModel model)
    {
        var summaries = new List<ClusterSummary>();
        foreach (var cluster in model.Clusters)
        {
            summaries.Add(new ClusterSummary(cluster.Id,
                cluster.PrimaryPeriod > 1 ? cluster.PrimaryPeriod : null,
                cluster.SecondaryPeriod > 1 ? cluster.SecondaryPeriod : null,
                cluster.Size, cluster.Centroid));
        }
        return summaries;
    }
}
