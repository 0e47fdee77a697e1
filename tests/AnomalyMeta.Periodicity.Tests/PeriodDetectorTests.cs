using AnomalyMeta.Periodicity.Synthetic;

namespace AnomalyMeta.Periodicity.Tests;

public sealed class PeriodDetectorTests
{
    private readonly PeriodDetector _detector = new(new PeriodDetectorOptions());

    [Theory]
    [InlineData(24, 720)]
    [InlineData(7, 364)]
    [InlineData(12, 180)]
    [InlineData(52, 312)]
    public void A_single_season_is_found_with_no_secondary_period(int period, int length)
    {
        PeriodEstimate estimate = _detector.Detect(SeriesFactory.Seasonal(seed: period, length, period));

        Assert.Equal(PeriodStatus.Periodic, estimate.Status);
        Assert.Equal(period, estimate.PrimaryPeriod);
        Assert.Equal(0, estimate.SecondaryPeriod);
        Assert.InRange(estimate.Strength, 0.5f, 1f);
    }

    [Fact]
    public void Hourly_data_with_a_weekend_gives_24_and_168()
    {
        PeriodEstimate estimate = _detector.Detect(SeriesFactory.Seasonal(seed: 3, 168 * 6, 24, secondary: 168));

        Assert.Equal((24, 168), (estimate.PrimaryPeriod, estimate.SecondaryPeriod));
        Assert.Equal(168, estimate.SeasonLength);
    }

    [Fact]
    public void Trend_level_shifts_spikes_and_gaps_do_not_hide_the_period()
    {
        for (int seed = 0; seed < 5; seed++)
        {
            float[] values = SeriesFactory.Seasonal(seed, 24 * 30, 24, noise: 0.4f, missing: 0.2f, disturbed: true);

            Assert.Equal(24, _detector.Detect(values).PrimaryPeriod);
        }
    }

    [Fact]
    public void A_long_period_is_exact_to_the_point()
    {
        PeriodEstimate estimate = _detector.Detect(SeriesFactory.Seasonal(seed: 5, 288 * 5, 288, noise: 0.25f));

        Assert.Equal(288, estimate.PrimaryPeriod);
    }

    [Fact]
    public void A_non_calendar_period_is_found_without_the_calendar_prior()
    {
        var detector = new PeriodDetector(new PeriodDetectorOptions { PreferredPeriods = [] });

        PeriodEstimate estimate = detector.Detect(SeriesFactory.Seasonal(seed: 9, 37 * 20, 37, noise: 0.2f));

        Assert.Equal(37, estimate.PrimaryPeriod);
    }

    [Fact]
    public void White_noise_and_random_walks_are_aperiodic()
    {
        for (int seed = 0; seed < 10; seed++)
        {
            Assert.Equal(PeriodStatus.Aperiodic, _detector.Detect(SeriesFactory.WhiteNoise(seed, 500)).Status);
            Assert.Equal(PeriodStatus.Aperiodic, _detector.Detect(SeriesFactory.RandomWalk(seed, 800)).Status);
        }
    }

    [Fact]
    public void A_cycle_that_settled_recently_is_found_by_the_second_look_at_the_recent_half()
    {
        var wholeOnly = new PeriodDetector(new PeriodDetectorOptions { RecentRegimeMinCycles = 0 });
        int smearedAsAWhole = 0;
        for (int seed = 0; seed < 10; seed++)
        {
            float[] values = SeriesFactory.SettledAfterPhaseJumps(seed, 24 * 40, 24);

            PeriodEstimate estimate = _detector.Detect(values);

            Assert.Equal((PeriodStatus.Periodic, 24, 0), (estimate.Status, estimate.PrimaryPeriod, estimate.SecondaryPeriod));
            smearedAsAWhole += wholeOnly.Detect(values).Status == PeriodStatus.Aperiodic ? 1 : 0;
        }

        Assert.True(smearedAsAWhole >= 8, $"only {smearedAsAWhole} of 10 series were aperiodic as a whole");
    }

    [Fact]
    public void A_weekly_pattern_seen_fewer_than_eight_times_in_the_recent_half_is_not_reported()
    {
        var wholeOnly = new PeriodDetector(new PeriodDetectorOptions { RecentRegimeMinCycles = 0 });
        int weeklyInHalf = 0;
        for (int seed = 0; seed < 5; seed++)
        {
            // 70 days: the recent half holds 5 weeks, enough to see the weekend but not to trust it as a period.
            float[] values = SeriesFactory.SettledAfterPhaseJumps(seed, 24 * 70, 24, weekend: true);
            weeklyInHalf += wholeOnly.Detect(values.AsSpan(values.Length / 2)).SecondaryPeriod == 168 ? 1 : 0;

            PeriodEstimate estimate = _detector.Detect(values);

            Assert.Equal((PeriodStatus.Periodic, 24, 0), (estimate.Status, estimate.PrimaryPeriod, estimate.SecondaryPeriod));
        }

        Assert.True(weeklyInHalf >= 3, $"the recent half alone gave 24/168 for only {weeklyInHalf} of 5 series");
    }

    [Theory]
    [InlineData(80)]
    [InlineData(120)]
    [InlineData(672)]
    public void The_second_look_does_not_make_noisy_random_walks_periodic(int length)
    {
        var wholeOnly = new PeriodDetector(new PeriodDetectorOptions { RecentRegimeMinCycles = 0 });
        int withLook = 0;
        int without = 0;
        for (int seed = 0; seed < 300; seed++)
        {
            // A random walk under white noise (the demo's aperiodic family): half a series fakes long "periods", and
            // a short half fakes short ones.
            float[] walk = SeriesFactory.RandomWalk(seed, length);
            var random = new Random(seed + 1000);
            for (int t = 0; t < walk.Length; t++)
            {
                walk[t] = (0.3f * walk[t]) + SyntheticSeries.Gaussian(random);
            }

            withLook += _detector.Detect(walk).Status == PeriodStatus.Periodic ? 1 : 0;
            without += wholeOnly.Detect(walk).Status == PeriodStatus.Periodic ? 1 : 0;
        }

        Assert.Equal(without, withLook);
        Assert.InRange(withLook, 0, 15);
    }

    [Fact]
    public void A_constant_series_is_aperiodic_with_zero_strength()
    {
        PeriodEstimate estimate = _detector.Detect(Enumerable.Repeat(3.5f, 200).ToArray());

        Assert.Equal(new PeriodEstimate(PeriodStatus.Aperiodic, 0, 0, 0f), estimate);
    }

    [Fact]
    public void Short_or_mostly_missing_series_are_too_short()
    {
        Assert.Equal(PeriodStatus.TooShort, _detector.Detect(new float[5]).Status);
        float[] gaps = Enumerable.Repeat(float.NaN, 300).ToArray();
        gaps[10] = 1f;
        gaps[200] = 2f;
        Assert.Equal(PeriodStatus.TooShort, _detector.Detect(gaps).Status);
    }

    [Fact]
    public void A_series_shorter_than_two_expected_periods_is_too_short()
    {
        var hourly = new PeriodDetector(new PeriodDetectorOptions { ExpectedPeriod = 24 });

        Assert.Equal(PeriodStatus.TooShort, hourly.Detect(SeriesFactory.Seasonal(seed: 1, 40, 24)).Status);
        Assert.Equal(PeriodStatus.Periodic, hourly.Detect(SeriesFactory.Seasonal(seed: 1, 24 * 10, 24)).Status);
    }

    [Fact]
    public void Invalid_options_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new PeriodDetector(new PeriodDetectorOptions { MinPeriod = 1 }));
        Assert.Throws<ArgumentException>(() => new PeriodDetector(new PeriodDetectorOptions { MinLength = 4 }));
        Assert.Throws<ArgumentException>(() => new PeriodDetector(new PeriodDetectorOptions { RecentRegimeMinCycles = -1 }));
        Assert.Throws<ArgumentException>(() => new PeriodDetector(new PeriodDetectorOptions { RecentRegimeMinPoints = -1 }));
    }

    [Fact]
    public void The_periodogram_matches_a_direct_transform()
    {
        float[] values = SeriesFactory.WhiteNoise(1, 100);
        var power = new float[129];
        int length = Periodogram.Compute(values, values.Length, new Periodogram.Workspace(), power);

        Assert.Equal(128, length);
        for (int k = 1; k <= 64; k++)
        {
            double re = 0;
            double im = 0;
            for (int t = 0; t < values.Length; t++)
            {
                re += values[t] * Math.Cos(2 * Math.PI * k * t / length);
                im -= values[t] * Math.Sin(2 * Math.PI * k * t / length);
            }

            Assert.Equal((re * re) + (im * im), power[k], 0.01 * ((re * re) + (im * im)) + 1e-3);
        }
    }

    [Fact]
    public void Gaps_are_interpolated_linearly_and_edges_take_the_nearest_value()
    {
        float[] values = [float.NaN, 1f, float.NaN, float.NaN, 4f, float.NaN];
        var filled = new float[values.Length];

        int observed = SeriesPreparation.FillGaps(values, filled);

        Assert.Equal(2, observed);
        Assert.Equal([1f, 1f, 2f, 3f, 4f, 4f], filled);
    }
}
