using AnomalyMeta.Testing;
using Dapper;

namespace AnomalyMeta.Service.Tests;

/// <summary>Tags on the scored fleet's series, for the dashboard's filters and drill-down (the generated fleet has none).</summary>
internal static class DashboardFleet
{
    /// <summary>
    /// region = eu, us or apac and tier = gold or silver by series id. Idempotent (a series already tagged is not
    /// updated, so the stored counts and top flags per tag value stay valid across the tests that call it).
    /// </summary>
    public static async Task TagAsync(ScoredFleetFixture fleet)
    {
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(
            """
            update series set tags = tags || jsonb_build_object('region', (array['eu', 'us', 'apac'])[series_id % 3 + 1],
                                                                'tier', case when series_id % 4 = 0 then 'gold' else 'silver' end)
            where not tags ? 'region'
            """);
    }

    /// <summary>The scoring day's anomalies in the ranking's order (score, series id, timestamp, all descending), filtered in SQL.</summary>
    public static async Task<List<(string Key, DateTime Ts, float Score)>> RankedAsync(ScoredFleetFixture fleet, string where = "true", object? parameters = null)
    {
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        var args = new DynamicParameters(parameters);
        args.Add("day", ScoredFleetFixture.ScoringDay);
        return (await connection.QueryAsync<(string, DateTime, float)>(
            $"""
            select s.series_key, a.ts, a.score from anomaly a join series s using (series_id)
            where a.as_of = @day and {where}
            order by a.score desc, a.series_id desc, a.ts desc
            """, args)).Select(r => (r.Item1, DateTime.SpecifyKind(r.Item2, DateTimeKind.Utc), r.Item3)).ToList();
    }
}
