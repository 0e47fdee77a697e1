using AnomalyMeta.Scoring.Drift;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnomalyMeta.Scoring.Tests;

/// <summary>
/// The drift check on the real pipeline: a fleet scored night after night, then one cluster's series change shape.
/// The check leaves every cluster alone before the change and retrains that cluster, and only it, after.
/// </summary>
public sealed class DriftCheckTests(PreparedFleetFixture fixture) : IClassFixture<PreparedFleetFixture>
{
    private static readonly DateOnly ScoringDay = SmallFleet.Options.ScoringDay;

    [Fact]
    public async Task A_cluster_whose_series_change_shape_is_retrained_by_the_drift_check_and_not_before_and_the_others_are_not()
    {
        var fleet = fixture.Fleet;
        var options = new DriftOptions { BaselineDays = 3, RecentDays = 2, Ratio = 1.5 };
        var training = SmallFleet.Training;
        training.Iterations = 100;
        var check = new DriftCheck(fleet.Clusterings, new DriftQueries(fixture.DataSource), new MetaTrainingStep(fleet.Series, fleet.Clusterings, fleet.Models,
            NullLogger<MetaTrainingStep>.Instance), NullLogger<DriftCheck>.Instance);
        // The generator plants its anomalies on the scoring day: the test stays on the days before it.
        for (var day = ScoringDay.AddDays(-8); day <= ScoringDay.AddDays(-3); day = day.AddDays(1))
        {
            await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, day, "test"), CancellationToken.None);
        }
        var before = await check.RunAsync(ScoringDay.AddDays(-3), options, training, CancellationToken.None);

        // The largest cluster's series turn their day around (the peak moves by 12 hours) and triple their swing.
        var live = (await fleet.Clusterings.LoadLiveAsync(CancellationToken.None))!;
        int changed = live.Clusters.MaxBy(c => c.SeriesCount)!.ClusterId;
        var members = (await fleet.Clusterings.AssignmentsAsync(live.Version, CancellationToken.None)).Where(a => a.Value == changed).Select(a => a.Key).ToHashSet();
        var rows = new List<DayRow>();
        await foreach (var batch in fleet.Series.ReadHistoryAsync(ScoringDay.AddDays(-1), 2, 4096, CancellationToken.None))
        {
            for (int i = 0; i < batch.Count; i++)
            {
                if (!members.Contains(batch.Series[i].SeriesId))
                {
                    continue;
                }
                var window = batch.PointsOf(i).ToArray();
                for (int d = 0; d < 2; d++)
                {
                    var day = window.AsSpan(d * 24, 24).ToArray();
                    float mean = day.Where(float.IsFinite).DefaultIfEmpty(0f).Average();
                    var turned = new float[24];
                    for (int h = 0; h < 24; h++)
                    {
                        turned[h] = mean + (3 * (day[(h + 12) % 24] - mean));
                    }
                    rows.Add(new DayRow(batch.Series[i].SeriesId, ScoringDay.AddDays(d - 2), turned));
                }
            }
        }
        await fleet.Series.WriteObservationsAsync(rows, DayWriteMode.Replace, CancellationToken.None);
        foreach (var day in new[] { ScoringDay.AddDays(-2), ScoringDay.AddDays(-1) })
        {
            await fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, day, "test"), CancellationToken.None);
        }
        var modelsBefore = (await fleet.Models.LoadLatestAsync(live.Version, CancellationToken.None)).ToDictionary(m => m.ClusterId, m => m.ModelId);
        var after = await check.RunAsync(ScoringDay.AddDays(-1), options, training, CancellationToken.None);
        var modelsAfter = (await fleet.Models.LoadLatestAsync(live.Version, CancellationToken.None)).ToDictionary(m => m.ClusterId, m => m.ModelId);

        Assert.NotEmpty(members);
        Assert.All(before.Clusters, c => Assert.False(c.Retrained, c.Reason));
        Assert.Contains(before.Clusters, c => c.Ratio is not null);
        Assert.Null(before.Retraining);
        var drifted = Assert.Single(after.Clusters, c => c.Retrained);
        Assert.Equal(changed, drifted.ClusterId);
        Assert.Contains("retrained", drifted.Reason, StringComparison.Ordinal);
        Assert.Equal([changed], after.Retraining!.Trained.Select(t => t.ClusterId));
        Assert.NotEqual(modelsBefore[changed], modelsAfter[changed]);
        Assert.All(modelsBefore.Where(m => m.Key != changed), m => Assert.Equal(m.Value, modelsAfter[m.Key]));
    }
}
