using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>How long each growing table keeps its rows, and how far ahead its monthly partitions are made.</summary>
public sealed class RetentionOptions
{
    public const string Section = "Retention";

    /// <summary>Days of observations kept (the longest season a model reads is a few weeks; clustering reads 28 days).</summary>
    public int ObservationDays { get; set; } = 400;

    /// <summary>Days of anomaly flags kept (what dashboards and evaluations look back on).</summary>
    public int AnomalyDays { get; set; } = 730;

    /// <summary>
    /// Days of per-series run outcomes kept (forecasts and scores of every point: the largest table). The assignments
    /// of a clustering older than the live one go when no run of these days scored with it.
    /// </summary>
    public int RunSeriesDays { get; set; } = 120;

    /// <summary>Months of partitions made ahead of today.</summary>
    public int MonthsAhead { get; set; } = 3;

    public IEnumerable<string> Problems()
    {
        if (ObservationDays < 35 || AnomalyDays < 1 || RunSeriesDays < 2 || MonthsAhead is < 1 or > 24)
        {
            yield return $"Retention: ObservationDays must be at least 35 (scoring and clustering read back that far), AnomalyDays at least 1, "
                + $"RunSeriesDays at least 2 (the detector starts from yesterday's) and MonthsAhead in 1..24; found {ObservationDays}, {AnomalyDays}, {RunSeriesDays}, {MonthsAhead}.";
        }
    }
}

/// <summary>What one maintenance pass did.</summary>
public sealed record PartitionReport(int Created, int ObservationMonthsDropped, int AnomalyMonthsDropped, int RunSeriesMonthsDropped,
    int AssignmentClusteringsDropped);

/// <summary>
/// The monthly partitions of observation_day, anomaly and run_series (db/0010): made ahead of the dates that will be
/// written, and dropped whole once past retention (a partition is dropped when all of its month is older than the
/// cutoff, so up to a month more than the setting is kept; rows in the default partition are deleted to the day).
/// series_assignment has a partition per clustering (db/0024), dropped with the run outcomes that used it.
/// </summary>
public sealed class Partitions(NpgsqlDataSource dataSource)
{
    private static readonly string[] Tables = ["observation_day", "anomaly", "run_series"];

    public async Task<PartitionReport> MaintainAsync(DateOnly today, RetentionOptions retention, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(retention);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        int created = 0;
        foreach (string table in Tables)
        {
            // One statement, so one transaction, per table: a month being made locks its table against writers
            // (db/0023), and a pass must never hold one table while it waits for another.
            created += await connection.ExecuteScalarAsync<int>(new CommandDefinition(
                "select anomalymeta_month_partitions_of(@table, @from, @to)",
                new { table, from = today.AddMonths(-1), to = today.AddMonths(retention.MonthsAhead) }, cancellationToken: cancellationToken));
        }
        async Task<int> DropAsync(string table, int days) => await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "select anomalymeta_drop_months_before(@table, @cutoff)", new { table, cutoff = today.AddDays(-days) }, cancellationToken: cancellationToken));
        var report = new PartitionReport(created,
            await DropAsync("observation_day", retention.ObservationDays),
            await DropAsync("anomaly", retention.AnomalyDays),
            await DropAsync("run_series", retention.RunSeriesDays),
            await connection.ExecuteScalarAsync<int>(new CommandDefinition("select anomalymeta_drop_assignments_before(@cutoff)",
                new { cutoff = today.AddDays(-retention.RunSeriesDays) }, cancellationToken: cancellationToken)));
        // The dashboard's day summaries hold copies of their flags (db/0022): a day whose flags are gone loses them too.
        await connection.ExecuteAsync(new CommandDefinition(
            """
            delete from anomaly_tag_count_day d
            where d.as_of < @cutoff and not exists (select from anomaly a where a.as_of = d.as_of)
            """,
            new { cutoff = today.AddDays(-retention.AnomalyDays) }, cancellationToken: cancellationToken));
        return report;
    }
}
