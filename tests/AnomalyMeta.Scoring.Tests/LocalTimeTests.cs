using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnomalyMeta.Scoring.Tests;

/// <summary>
/// The same office-hours series twice, busy from 09:00 to 17:00 Paris time, around the spring clock change of
/// 2026-03-29: once declared in Europe/Paris, once left on UTC. Scored morning by morning from a week before the
/// change to four days after it.
/// </summary>
public sealed class DaylightSavingFixture : IAsyncLifetime
{
    public static readonly DateOnly ClockChange = new(2026, 3, 29);

    private readonly PostgresFixture _database = new();

    public IReadOnlyList<FlaggedPoint> Flags { get; private set; } = [];

    public IReadOnlyDictionary<(string Key, DateOnly Day), ScoredDay> Scored { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        var dataSource = _database.DataSource;
        var series = new SeriesRepository(dataSource);
        var queries = new AnomalyQueries(dataSource);
        var ct = CancellationToken.None;
        var paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");

        var ids = await series.RegisterAsync([new("office/paris", 3600, TimeZone: "Europe/Paris"), new("office/utc", 3600)], ct);
        var rows = new List<DayRow>();
        var random = new Random(3);
        for (var day = ClockChange.AddDays(-21); day <= ClockChange.AddDays(4); day = day.AddDays(1))
        {
            var points = new float[24];
            for (int hour = 0; hour < 24; hour++)
            {
                var local = TimeZoneInfo.ConvertTimeFromUtc(day.ToDateTime(new TimeOnly(hour, 0), DateTimeKind.Utc), paris);
                points[hour] = (float)(100 + (local.Hour is >= 9 and < 17 ? 50 : 0) + (8 * random.NextDouble()));
            }
            rows.Add(new DayRow(ids["office/paris"], day, points));
            rows.Add(new DayRow(ids["office/utc"], day, (float[])points.Clone()));
        }
        await series.WriteObservationsAsync(rows, ct);

        var clusterings = new ClusteringStore(dataSource);
        var models = new ModelStore(dataSource);
        // No clustering: both series are scored by the generic hourly model, so only the clock differs between them.
        await new MetaTrainingStep(series, clusterings, models, NullLogger<MetaTrainingStep>.Instance)
            .TrainAsync(ClockChange.AddDays(-8), new TrainingOptions { Iterations = 1000 }, ct);
        var scoring = new MorningScoring(series, queries, clusterings, models, new RunLedger(dataSource), new ScoringOptions(),
            NullLogger<MorningScoring>.Instance);
        var flags = new List<FlaggedPoint>();
        for (var day = ClockChange.AddDays(-7); day <= ClockChange.AddDays(4); day = day.AddDays(1))
        {
            await scoring.RunAsync(new ScoringRequest(RunKind.Nightly, day, "test"), ct);
            flags.AddRange(await queries.FlaggedOnAsync(day, ct));
        }
        Flags = flags;
        Scored = (await queries.ScoredDaysAsync(ct)).ToDictionary(d => (d.SeriesKey, d.AsOf));
    }

    public Task DisposeAsync() => _database.DisposeAsync();
}

public sealed class LocalTimeTests(DaylightSavingFixture fixture) : IClassFixture<DaylightSavingFixture>
{
    // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC from the change on.
    private const int OpeningUtcAfterChange = 7;

    [Fact]
    public void A_series_on_its_local_clock_expects_its_cycle_an_hour_earlier_in_utc_from_the_change_on()
    {
        for (var day = DaylightSavingFixture.ClockChange; day <= DaylightSavingFixture.ClockChange.AddDays(4); day = day.AddDays(1))
        {
            var forecast = fixture.Scored[("office/paris", day)].Forecast;
            // The forecast at 07:00 UTC already rises towards the opening (+50; the generic model forecasts part of it).
            Assert.True(forecast[OpeningUtcAfterChange] - forecast[OpeningUtcAfterChange - 1] > 10,
                $"{day}: forecast {forecast[OpeningUtcAfterChange - 1]:F0} at 06:00 and {forecast[OpeningUtcAfterChange]:F0} at 07:00 UTC");
        }
    }

    [Fact]
    public void The_same_series_on_utc_is_surprised_by_the_opening_an_hour_early()
    {
        var day = DaylightSavingFixture.ClockChange;
        var utc = fixture.Scored[("office/utc", day)].Forecast;

        // On UTC the model still expects the opening at 08:00: at 07:00 it forecasts the night level, and is flagged.
        Assert.True(utc[OpeningUtcAfterChange] - utc[OpeningUtcAfterChange - 1] < 10,
            $"forecast {utc[OpeningUtcAfterChange - 1]:F0} at 06:00 and {utc[OpeningUtcAfterChange]:F0} at 07:00 UTC");
        Assert.Contains(fixture.Flags, f => f.SeriesKey == "office/utc" && DateOnly.FromDateTime(f.Ts) == day && f.Ts.Hour == OpeningUtcAfterChange);
        for (var next = day; next <= day.AddDays(1); next = next.AddDays(1))
        {
            float paris = fixture.Scored[("office/paris", next)].Forecast[OpeningUtcAfterChange];
            float onUtc = fixture.Scored[("office/utc", next)].Forecast[OpeningUtcAfterChange];
            Assert.True(paris > onUtc + 10, $"{next}: 07:00 UTC forecast {paris:F0} on Paris time, {onUtc:F0} on UTC");
        }
    }
}
