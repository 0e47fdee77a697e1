using AnomalyMeta.Core.Series;

namespace AnomalyMeta.Core.Tests;

public sealed class WindowRepairTests
{
    [Fact]
    public void Gaps_are_filled_by_interpolation_inside_and_by_the_nearest_value_at_the_edges()
    {
        float[] values = [float.NaN, 1f, float.NaN, float.NaN, 4f, float.NaN];

        int observed = WindowRepair.FillGaps(values);

        Assert.Equal(2, observed);
        Assert.Equal([1f, 1f, 2f, 3f, 4f, 4f], values);
    }

    [Fact]
    public void A_window_with_no_observation_reports_zero_observed_points()
    {
        float[] values = [float.NaN, float.NaN];

        Assert.Equal(0, WindowRepair.FillGaps(values));
    }

    [Fact]
    public void Infinity_is_told_apart_from_a_missing_point()
    {
        Assert.False(WindowRepair.HasInfinity([1f, float.NaN]));
        Assert.True(WindowRepair.HasInfinity([1f, float.PositiveInfinity]));
    }
}
