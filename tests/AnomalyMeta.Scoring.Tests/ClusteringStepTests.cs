using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnomalyMeta.Scoring.Tests;

public sealed class ClusteringStepTests(PostgresFixture database) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Each_series_is_judged_by_its_own_sampling_step_in_a_batch_that_mixes_steps()
    {
        var options = new SyntheticFleetOptions { SeriesCount = 60, HistoryDays = 14, Seed = 5 };
        var repository = new SeriesRepository(database.DataSource);
        await new SyntheticFleetIngest(repository).IngestAsync(new SyntheticSeriesGenerator(options), CancellationToken.None);
        // Registered after the hourly fleet, so it shares their batch: one day of a clean daily cycle in 15-minute
        // steps is 96 points, fewer than the two days of points a daily period needs.
        var day = options.ScoringDay;
        var quarterHourly = Enumerable.Range(0, 96).Select(t => 10f + MathF.Sin(2 * MathF.PI * t / 96)).ToArray();
        var (ids, _) = await repository.RegisterAndWriteAsync(
            [new SeriesRegistration("quarter-hourly", 900)], ids => [new DayRow(ids["quarter-hourly"], day, quarterHourly)], CancellationToken.None);

        var report = await new ClusteringStep(repository, new ClusteringStore(database.DataSource), NullLogger<ClusteringStep>.Instance)
            .RunAsync(day, options.HistoryDays, CancellationToken.None);

        Assert.Equal(61, report.SeriesCount);
        // The phases are parts of the pass: each measured, together within its whole time.
        var phases = Assert.IsType<ClusteringPhases>(report.Phases);
        Assert.All(new[] { phases.Profile, phases.Fit, phases.Save }, seconds => Assert.True(seconds > 0));
        Assert.True(phases.ReadWait + phases.Profile + phases.Fit + phases.Save <= report.Seconds);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var statuses = (await connection.QueryAsync<(string Key, string Status)>(
            "select series_key, period_status from series")).ToDictionary(r => r.Key, r => r.Status);
        Assert.Equal("tooshort", statuses["quarter-hourly"]);
        var generator = new SyntheticSeriesGenerator(options);
        int periodicHourly = Enumerable.Range(0, options.SeriesCount)
            .Count(i => generator.Generate(i).Family != SeriesFamily.Aperiodic && statuses[generator.Generate(i).Key] == "periodic");
        int expectedPeriodic = Enumerable.Range(0, options.SeriesCount).Count(i => generator.Generate(i).Family != SeriesFamily.Aperiodic);
        Assert.True(periodicHourly >= 0.9 * expectedPeriodic, $"{periodicHourly} of {expectedPeriodic} seasonal hourly series found periodic");
    }
}
