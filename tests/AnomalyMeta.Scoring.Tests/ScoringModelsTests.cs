using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Learning;
using AnomalyMeta.Scoring.Batches;

namespace AnomalyMeta.Scoring.Tests;

/// <summary>What the models of a run ask the read for: the days of each cluster's windows.</summary>
public sealed class ScoringModelsTests
{
    [Fact]
    public void Each_live_cluster_reads_the_days_of_its_own_model_or_of_the_generic_fallback_whichever_is_longer()
    {
        using var learner = MetaLearner.Create(new MetaLearnerOptions { InputSize = OneStepTask.InputSize, HiddenSizes = [4], Seed = 3 });
        var adapter = new FastAdapter(learner.ExportParameters());
        ScoringModel Hourly(int primaryPeriod, int season) => new(1, "test", adapter, primaryPeriod, season, 24, 1);
        // Weekly lag 168 (+ 1) for all: a day's cycle with a day of support reads 217 points, 10 days; a week of support
        // 361, 16 days; a weekly primary season three weeks of seasonal lags (505) and a week of support: 697, 30 days.
        var models = new ScoringModels(liveVersion: 4,
            new Dictionary<int, ScoringModel> { [0] = Hourly(24, 24), [1] = Hourly(24, 168), [2] = Hourly(168, 168) },
            new Dictionary<int, ScoringModel> { [3600] = Hourly(24, 48) });

        var windows = models.Windows(minimum: 8);

        Assert.NotNull(windows);
        Assert.Equal(4, windows.ClusterVersion);
        // The generic model (217 + 24 points: 11 days) is the floor: a series its cluster cannot score falls back to it.
        Assert.Equal(new Dictionary<int, int> { [0] = 11, [1] = 16, [2] = 30 }, windows.DaysByCluster);
        Assert.Equal(30, models.DaysToRead(8));
        Assert.Null(new ScoringModels(null, new Dictionary<int, ScoringModel>(), new Dictionary<int, ScoringModel> { [3600] = Hourly(24, 48) }).Windows(8));
    }
}
