namespace AnomalyMeta.Periodicity.Tests;

/// <summary>The lagged sums behind the detector's autocorrelation, against the sums written out in double precision.</summary>
public sealed class AutocorrelationTests
{
    [Theory]
    // One lag block and a partial one; exactly two blocks; lags up to the series' end; a series shorter than a block.
    [InlineData(528, 177)]
    [InlineData(300, 127)]
    [InlineData(97, 96)]
    [InlineData(40, 39)]
    [InlineData(264, 0)]
    public void Every_lag_is_the_sum_of_products_of_the_series_with_itself_shifted(int length, int maxLag)
    {
        var random = new Random(length);
        var z = new float[length];
        for (int t = 0; t < length; t++)
        {
            z[t] = (float)(Math.Sin(2 * Math.PI * t / 24) + random.NextDouble() - 0.5);
        }

        var sums = new float[maxLag + 1];
        // Scratch full of garbage: the padding must be cleared by the call, not assumed.
        var padded = Enumerable.Repeat(1e6f, Autocorrelation.PaddedLength(length) + 5).ToArray();
        Autocorrelation.Sums(z, maxLag, padded, sums);

        for (int lag = 0; lag <= maxLag; lag++)
        {
            double expected = 0;
            double scale = 0;
            for (int t = 0; t + lag < length; t++)
            {
                expected += (double)z[t] * z[t + lag];
                scale += Math.Abs((double)z[t] * z[t + lag]);
            }

            Assert.True(Math.Abs(sums[lag] - expected) <= 1e-5 * Math.Max(scale, 1e-3), $"lag {lag}: {sums[lag]} against {expected}");
        }
    }

    [Fact]
    public void Too_small_buffers_are_refused_by_size()
    {
        var z = new float[100];
        var error = Assert.Throws<ArgumentException>(() => Autocorrelation.Sums(z, 50, new float[120], new float[51]));
        Assert.Contains("needs 164 floats of padding and 51 of output", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Autocorrelation.Sums(z, 50, new float[164], new float[50]));
    }
}
