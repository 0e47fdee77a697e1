using AnomalyMeta.Core.Detection;
using AnomalyMeta.Core.Forecasting;

namespace AnomalyMeta.Core.Tests;

public sealed class ResidualScorerTests
{
    [Fact]
    public void The_score_is_one_half_at_the_threshold_and_grows_with_the_residual()
    {
        Assert.Equal(0f, ResidualScorer.Score(0f, 4f), 6);
        Assert.Equal(0.5f, ResidualScorer.Score(4f, 4f), 6);
        Assert.Equal(0.5f, ResidualScorer.Score(-4f, 4f), 6);
        Assert.True(ResidualScorer.Score(8f, 4f) > 0.9f);
        Assert.True(ResidualScorer.Score(100f, 4f) <= 1f);
    }

    [Fact]
    public void The_robust_scale_ignores_a_few_outliers()
    {
        var random = new Random(3);
        var actual = new float[200];
        var fitted = new float[200];
        for (int i = 0; i < actual.Length; i++)
        {
            double u = 1.0 - random.NextDouble();
            actual[i] = (float)(Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }
        actual[10] = 50f;
        actual[20] = -80f;

        float scale = ResidualScorer.RobustScale(actual, fitted, new float[200], minimum: 0.01f);

        Assert.InRange(scale, 0.8f, 1.2f);
    }

    [Fact]
    public void The_robust_scale_never_falls_below_its_floor()
    {
        float[] same = [1f, 1f, 1f, 1f];

        Assert.Equal(0.05f, ResidualScorer.RobustScale(same, same, new float[4], minimum: 0.05f));
    }

    [Fact]
    public void Detection_metrics_count_points_against_truth()
    {
        var metrics = new DetectionMetrics()
            .Add(flagged: true, anomalous: true)
            .Add(flagged: true, anomalous: false)
            .Add(flagged: false, anomalous: true)
            .Add(flagged: false, anomalous: false);

        Assert.Equal(0.5, metrics.Precision, 9);
        Assert.Equal(0.5, metrics.Recall, 9);
        Assert.Equal(0.5, metrics.F1, 9);
    }
}

public sealed class SeasonalTaskTests
{
    [Fact]
    public void Inputs_give_the_same_phase_to_the_same_hour_of_different_days()
    {
        var inputs = new float[48 * SeasonalTask.InputSize];

        SeasonalTask.EncodeInputs(firstIndex: 24 * 1000, count: 48, primaryPeriod: 24, seasonLength: 168, inputs);

        Assert.Equal(inputs[0], inputs[24 * SeasonalTask.InputSize]);
        Assert.NotEqual(inputs[1], inputs[24 * SeasonalTask.InputSize + 1]);
        Assert.All(inputs, x => Assert.InRange(x, -SeasonalTask.InputRange, SeasonalTask.InputRange));
    }

    [Fact]
    public void The_season_is_the_longer_period_when_there_is_one()
    {
        Assert.Equal(168, SeasonalTask.SeasonLength(24, 168, 24));
        Assert.Equal(24, SeasonalTask.SeasonLength(24, 0, 24));
        Assert.Equal(24, SeasonalTask.SeasonLength(0, 0, 24));
    }

    [Fact]
    public void A_constant_window_has_no_normalisation()
    {
        Assert.False(SeasonalTask.TryNormalisation([5f, 5f, 5f], out _, out _));
        Assert.True(SeasonalTask.TryNormalisation([4f, 5f, 6f], out float mean, out float scale));
        Assert.Equal(5f, mean, 5);
        Assert.Equal(MathF.Sqrt(2f / 3f), scale, 5);
    }
}
