using AnomalyMeta.Core.Detection;
using AnomalyMeta.Core.Forecasting;

namespace AnomalyMeta.Core.Tests;

public sealed class OneStepTaskTests
{
    [Fact]
    public void Targets_are_changes_from_the_previous_point_and_the_forecast_adds_them_back()
    {
        float[] values = [10, 12, 11, 13, 17, 16, 20, 19, 23, 22];
        var scale = TaskScale.Of(values);
        var inputs = new float[4 * OneStepTask.InputSize];
        var targets = new float[4];

        OneStepTask.Encode(values, first: 6, count: 4, absoluteIndexOfValues0: 0, primaryPeriod: 0, seasonLength: 4, seasonalLag: 4, weeklyLag: 0, scale, inputs, targets);

        for (int i = 0; i < 4; i++)
        {
            int t = 6 + i;
            Assert.Equal(values[t], OneStepTask.Forecast(values[t - 1], targets[i], scale), 3);
            var row = inputs.AsSpan(i * OneStepTask.InputSize, OneStepTask.InputSize);
            Assert.Equal((values[t - 1] - values[t - 2]) / scale.StepScale, row[3], 4);
            // The seasonal inputs: the reference's change at this phase, and its gap to the current level.
            float reference = Reference(values, t, 4);
            Assert.Equal((reference - Reference(values, t - 1, 4)) / scale.StepScale, row[3 + OneStepTask.Lags], 4);
            Assert.Equal((reference - values[t - 1]) / scale.StepScale, row[4 + OneStepTask.Lags], 4);
        }
    }

    [FsCheck.Xunit.Property(MaxTest = 300)]
    public bool Encoding_a_window_at_once_equals_encoding_each_point_alone(int seed, bool clockChanges)
    {
        // Encode carries the phases and the references from point to point; each point alone computes them afresh.
        var random = new Random(seed);
        int length = 80 + random.Next(120);
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)(Math.Sin(i / 3.0) + random.NextDouble());
        }
        int[] shift = clockChanges ? [.. Enumerable.Range(0, length).Select(i => i < length / 2 ? 0 : 1)] : [];
        long absolute0 = random.Next(-50, 1_000_000);
        int primary = random.Next(0, 30);
        int season = 2 + random.Next(40);
        int seasonalLag = random.Next(0, 25);
        int weeklyLag = random.Next(0, 60);
        int first = OneStepTask.History + random.Next(10);
        int count = length - first;
        int firstValid = random.Next(0, 20);
        var scale = TaskScale.Of(values);
        var inputs = new float[count * OneStepTask.InputSize];
        var targets = new float[count];
        OneStepTask.Encode(values, first, count, absolute0, primary, season, seasonalLag, weeklyLag, scale, inputs, targets, firstValid, shift);

        var one = new float[OneStepTask.InputSize];
        var target = new float[1];
        for (int i = 0; i < count; i++)
        {
            OneStepTask.Encode(values, first + i, 1, absolute0, primary, season, seasonalLag, weeklyLag, scale, one, target, firstValid, shift);
            if (!one.AsSpan().SequenceEqual(inputs.AsSpan(i * OneStepTask.InputSize, OneStepTask.InputSize)) || target[0] != targets[i])
            {
                return false;
            }
        }
        return true;
    }

    [Fact]
    public void The_seasonal_reference_skips_the_fill_before_a_series_began()
    {
        // Points 0..3 are fill before the first observation at 4: the reference of point 9 (lag 4) is point 5 alone.
        float[] values = [7, 7, 7, 7, 7, 9, 8, 10, 9, 11];
        var scale = TaskScale.Of(values);
        var inputs = new float[OneStepTask.InputSize];

        OneStepTask.Encode(values, first: 9, count: 1, 0, 0, 4, seasonalLag: 4, weeklyLag: 0, scale, inputs, new float[1], firstValid: 4);

        Assert.Equal((values[5] - values[8]) / scale.StepScale, inputs[4 + OneStepTask.Lags], 4);
    }

    // Mean of the values 1, 2, 3 lags back that exist.
    private static float Reference(float[] values, int t, int lag)
    {
        var cycles = Enumerable.Range(1, OneStepTask.SeasonalCycles).Select(c => t - (c * lag)).Where(j => j >= 0).ToList();
        return cycles.Average(j => values[j]);
    }

    [Fact]
    public void Seasonal_inputs_are_zero_where_the_window_does_not_reach_one_lag_back()
    {
        float[] values = [1, 2, 3, 4, 5, 6];
        var inputs = new float[OneStepTask.InputSize];

        OneStepTask.Encode(values, first: 3, count: 1, 0, 0, 4, seasonalLag: 24, weeklyLag: 0, TaskScale.Of(values), inputs, new float[1]);

        Assert.Equal(0f, inputs[3 + OneStepTask.Lags]);
        Assert.Equal(0f, inputs[4 + OneStepTask.Lags]);
    }

    [Fact]
    public void The_weekly_inputs_read_the_same_point_one_week_before_and_only_when_it_exists()
    {
        // Daily lag 2, week 6: point 13 reads point 7 (its change from point 6, and its gap to point 12).
        float[] values = [0, 1, 2, 3, 4, 5, 0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 1, 2];
        var scale = TaskScale.Of(values);
        var inputs = new float[2 * OneStepTask.InputSize];

        OneStepTask.Encode(values, first: 12, count: 2, 0, 0, 2, seasonalLag: 2, weeklyLag: 6, scale, inputs, new float[2], firstValid: 7);

        var young = inputs.AsSpan(0, OneStepTask.InputSize);
        var weekOld = inputs.AsSpan(OneStepTask.InputSize, OneStepTask.InputSize);
        Assert.Equal(0f, young[5 + OneStepTask.Lags]);
        Assert.Equal(0f, young[6 + OneStepTask.Lags]);
        Assert.Equal(0f, weekOld[5 + OneStepTask.Lags]);
        Assert.Equal((values[7] - values[12]) / scale.StepScale, weekOld[6 + OneStepTask.Lags], 4);

        OneStepTask.Encode(values, first: 13, count: 1, 0, 0, 2, seasonalLag: 2, weeklyLag: 6, scale, inputs, new float[1]);

        Assert.Equal((values[7] - values[6]) / scale.StepScale, inputs[5 + OneStepTask.Lags], 4);
        Assert.Equal((values[7] - values[12]) / scale.StepScale, inputs[6 + OneStepTask.Lags], 4);
    }

    [Fact]
    public void A_constant_window_still_has_a_positive_scale()
    {
        var scale = TaskScale.Of([5f, 5f, 5f, 5f]);

        Assert.Equal(5f, scale.LevelMean);
        Assert.True(scale.StepScale > 0);
        Assert.True(scale.LevelScale > 0);
    }

    [Fact]
    public void The_scale_of_a_sparse_window_measures_changes_between_observations()
    {
        // Interpolated points between 0 and 10 look like small steps; the observations moved by 10.
        float[] filled = [0, 2.5f, 5, 7.5f, 10];
        bool[] observed = [true, false, false, false, true];

        var sparse = TaskScale.Of(filled, observed);
        var dense = TaskScale.Of(filled);

        Assert.Equal(10f, sparse.StepScale, 4);
        Assert.Equal(2.5f, dense.StepScale, 4);
    }
}

public sealed class DayScorerTests
{
    private static readonly DetectionOptions Options = new() { Threshold = 4f, PeakMargin = 0f };

    [Fact]
    public void A_flag_silences_the_next_points_for_the_quiet_period_but_they_keep_a_rank()
    {
        var actual = new float[10];
        float[] residuals = [0, 10, 10, 0, 0, 10, 0, 0, 0, 0];
        var scores = new float[10];

        DayScorer.Score(actual, residuals, initialScale: 1f, initialPeak: 0, memoryPoints: 100, peakMemoryPoints: 100, quietPoints: 3,
            quietPointsBefore: 0, Options, new float[10], scores, out _, out _);

        Assert.True(scores[1] >= 0.5f);
        Assert.InRange(scores[2], 0.3f, 0.4999f);
        Assert.True(scores[5] >= 0.5f, "the quiet period of 3 points after point 1 ended at point 4");
    }

    [Fact]
    public void A_flag_of_the_day_before_silences_the_first_points()
    {
        var scores = new float[4];

        DayScorer.Score(new float[4], [10, 0, 10, 0], 1f, 0, 100, 100, 3, quietPointsBefore: 1, Options, new float[4], scores, out _, out _);

        Assert.True(scores[0] < 0.5f);
        Assert.True(scores[2] >= 0.5f);
    }

    [Fact]
    public void A_residual_no_larger_than_the_recent_peak_is_not_flagged_when_the_peak_check_is_on()
    {
        var options = Options with { PeakMargin = 1.5f };
        var withPeak = new float[1];
        var withoutPeak = new float[1];

        DayScorer.Score([0f], [6f], 1f, initialPeak: 5f, 100, 100, 3, 0, options, new float[1], withPeak, out _, out _);
        DayScorer.Score([0f], [6f], 1f, initialPeak: 5f, 100, 100, 3, 0, Options, new float[1], withoutPeak, out _, out _);

        Assert.True(withPeak[0] < 0.5f, "6 is less than 1.5 x the recent peak of 5");
        Assert.True(withoutPeak[0] >= 0.5f);
    }

    [Fact]
    public void Missing_points_get_no_score_and_do_not_count()
    {
        var scores = new float[3];

        int scored = DayScorer.Score([1f, float.NaN, 1f], [0f, 0f, 0f], 1f, 0, 100, 100, 3, 0, Options, new float[3], scores, out _, out _);

        Assert.Equal(2, scored);
        Assert.True(float.IsNaN(scores[1]));
    }
}

public sealed class DelayAdjustedTests
{
    [Fact]
    public void A_segment_flagged_within_the_delay_counts_whole_and_one_flagged_late_counts_as_missed()
    {
        bool[] anomalous = [false, true, true, true, true, false, true, true, true, true, true, false];
        bool[] flagged = [true, false, true, false, false, false, false, false, false, false, true, false];
        var counted = Enumerable.Repeat(true, anomalous.Length).ToArray();

        var metrics = DelayAdjusted.Add(default, flagged, anomalous, counted, delay: 2);

        Assert.Equal(4, metrics.TruePositives);
        Assert.Equal(5, metrics.FalseNegatives);
        Assert.Equal(1, metrics.FalsePositives);
    }
}
