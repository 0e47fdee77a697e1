namespace AnomalyMeta.Periodicity.Tests;

public sealed class SeriesFeaturesTests
{
    private readonly PeriodDetector _detector = new(new PeriodDetectorOptions());

    [Fact]
    public void Features_do_not_depend_on_scale_or_offset()
    {
        float[] values = SeriesFactory.Seasonal(seed: 1, 24 * 30, 24, secondary: 168, disturbed: true);
        float[] scaled = values.Select(v => (1000f * v) + 5000f).ToArray();
        PeriodEstimate period = _detector.Detect(values);
        var a = new float[SeriesFeatures.Count];
        var b = new float[SeriesFeatures.Count];

        SeriesFeatures.Extract(values, period, a);
        SeriesFeatures.Extract(scaled, period, b);

        for (int f = 0; f < SeriesFeatures.Count; f++)
        {
            Assert.True(Math.Abs(a[f] - b[f]) < 1e-2f, $"{SeriesFeatures.Names[f]}: {a[f]} against {b[f]}");
        }
    }

    [Fact]
    public void A_clean_season_is_strong_and_noise_is_not()
    {
        float[] seasonal = SeriesFactory.Seasonal(seed: 2, 24 * 30, 24, noise: 0.1f);
        float[] noise = SeriesFactory.WhiteNoise(2, 720);
        var seasonalFeatures = new float[SeriesFeatures.Count];
        var noiseFeatures = new float[SeriesFeatures.Count];

        SeriesFeatures.Extract(seasonal, _detector.Detect(seasonal), seasonalFeatures);
        SeriesFeatures.Extract(noise, _detector.Detect(noise), noiseFeatures);

        Assert.InRange(seasonalFeatures[2], 0.9f, 1f);
        Assert.Equal(0f, noiseFeatures[2]);
        Assert.True(noiseFeatures[5] > seasonalFeatures[5], "white noise has the flatter spectrum");
        Assert.InRange(noiseFeatures[4], 0.8f, 1.2f);
        Assert.Equal(SeriesFeatures.Count, SeriesFeatures.Names.Count);
    }

    [Fact]
    public void Missing_share_and_degenerate_series_give_finite_features()
    {
        float[] values = SeriesFactory.Seasonal(seed: 3, 240, 24, missing: 0.25f);
        var features = new float[SeriesFeatures.Count];
        SeriesFeatures.Extract(values, _detector.Detect(values), features);
        Assert.InRange(features[8], 0.15f, 0.35f);

        foreach (float[] degenerate in new[] { new float[3], Enumerable.Repeat(2f, 50).ToArray(), Enumerable.Repeat(float.NaN, 50).ToArray() })
        {
            SeriesFeatures.Extract(degenerate, _detector.Detect(degenerate), features);
            Assert.All(features, f => Assert.True(float.IsFinite(f)));
        }
    }

    [Fact]
    public void The_detector_fast_path_gives_the_same_features_as_extract()
    {
        foreach (float[] values in new[]
        {
            SeriesFactory.Seasonal(seed: 4, 24 * 30, 24, secondary: 168, missing: 0.1f, disturbed: true),
            SeriesFactory.RandomWalk(4, 300),
            new float[20],
        })
        {
            var fast = new float[SeriesFeatures.Count];
            var slow = new float[SeriesFeatures.Count];
            PeriodEstimate period = _detector.DetectWithFeatures(values, fast);
            SeriesFeatures.Extract(values, period, slow);

            for (int f = 0; f < SeriesFeatures.Count; f++)
            {
                Assert.True(Math.Abs(fast[f] - slow[f]) < 1e-3f, $"{SeriesFeatures.Names[f]}: {fast[f]} against {slow[f]}");
            }
        }
    }

    [Fact]
    public void Extraction_on_many_threads_matches_one_thread()
    {
        float[][] series = Enumerable.Range(0, 64).Select(i => SeriesFactory.Seasonal(i, 24 * 20, 24, disturbed: true)).ToArray();
        var expected = new float[series.Length][];
        for (int i = 0; i < series.Length; i++)
        {
            expected[i] = new float[SeriesFeatures.Count];
            _detector.DetectWithFeatures(series[i], expected[i]);
        }

        var actual = new float[series.Length][];
        Parallel.For(0, series.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, () => new PeriodDetector(new PeriodDetectorOptions()), (i, _, detector) =>
        {
            actual[i] = new float[SeriesFeatures.Count];
            detector.DetectWithFeatures(series[i], actual[i]);
            return detector;
        }, _ => { });

        for (int i = 0; i < series.Length; i++)
        {
            Assert.Equal(expected[i], actual[i]);
        }
    }
}
