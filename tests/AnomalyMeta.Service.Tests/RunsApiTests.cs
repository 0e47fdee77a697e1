using AnomalyMeta.Service.Api;

namespace AnomalyMeta.Service.Tests;

public sealed class RunsApiTests
{
    [Fact]
    public void A_rescore_without_a_date_is_refused_instead_of_scoring_year_one()
    {
        var problem = RunsApi.Problem(new RunsApi.RescoreBody(null, "on-call", "feed fixed"));

        Assert.NotNull(problem);
        Assert.Contains("'asOf'", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rescore_of_year_one_or_without_a_reason_is_refused_and_a_complete_one_accepted()
    {
        Assert.NotNull(RunsApi.Problem(new RunsApi.RescoreBody(new DateOnly(1, 1, 1), "on-call", "feed fixed")));
        Assert.NotNull(RunsApi.Problem(new RunsApi.RescoreBody(new DateOnly(2026, 11, 22), "on-call", " ")));
        Assert.Null(RunsApi.Problem(new RunsApi.RescoreBody(new DateOnly(2026, 11, 22), "on-call", "feed fixed")));
    }
}
