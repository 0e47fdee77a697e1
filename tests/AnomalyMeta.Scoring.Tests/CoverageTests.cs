using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;
using AnomalyMeta.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnomalyMeta.Scoring.Tests;

/// <summary>
/// A fleet as real data comes: mostly hourly series, a few half-hourly ones that clustering puts with them, models
/// trained on too little history for the weekly clusters, and series that arrive after the clustering (one of them
/// only yesterday). Everything is scored the next morning.
/// </summary>
public sealed class YoungFleetFixture : IAsyncLifetime
{
    public static readonly DateOnly ScoringDay = new(2026, 3, 20);
    public const int LevelShiftHour = 10;

    private readonly PostgresFixture _database = new();

    public TrainingReport Training { get; private set; } = null!;

    public IReadOnlyDictionary<string, SeriesRunLine> Lines { get; private set; } = null!;

    public IReadOnlyDictionary<string, ScoredDay> Scored { get; private set; } = null!;

    public IReadOnlyList<FlaggedPoint> Flags { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        var dataSource = _database.DataSource;
        var series = new SeriesRepository(dataSource);
        var clusterings = new ClusteringStore(dataSource);
        var models = new ModelStore(dataSource);
        var queries = new AnomalyQueries(dataSource);
        var ct = CancellationToken.None;

        var hourly = new SyntheticFleetOptions { SeriesCount = 120, HistoryDays = 21, Seed = 5, ScoringDay = ScoringDay, AnomalousSeriesFraction = 0 };
        var halfHourly = hourly with { SeriesCount = 10, PointsPerDay = 48, Seed = 6 };
        await WriteAsync(series, "hourly", new SyntheticSeriesGenerator(hourly), ct);
        await WriteAsync(series, "half-hourly", new SyntheticSeriesGenerator(halfHourly), ct);

        var lastHistoryDay = ScoringDay.AddDays(-1);
        await new ClusteringStep(series, clusterings, NullLogger<ClusteringStep>.Instance).RunAsync(lastHistoryDay, 21, ct);

        // Arrive after the clustering: a series with a level shift on the scoring day, and one that started yesterday.
        var ids = await series.RegisterAsync([new("late/level-shift", 3600), new("late/second-day", 3600)], ct);
        var rows = new List<DayRow>();
        for (var day = hourly.FirstDay; day <= ScoringDay; day = day.AddDays(1))
        {
            rows.Add(new DayRow(ids["late/level-shift"], day, Smooth(day, shiftFromHour: day == ScoringDay ? LevelShiftHour : null)));
            if (day >= ScoringDay.AddDays(-1))
            {
                rows.Add(new DayRow(ids["late/second-day"], day, Smooth(day, shiftFromHour: null)));
            }
        }
        await series.WriteObservationsAsync(rows, ct);

        // Eight days of history (192 points) hold a daily task (73 points of lags, a season of 48, a day of 24) but not a
        // weekly one (73 + 168 + 24 = 265): the weekly clusters are skipped, the daily ones trained.
        Training = await new MetaTrainingStep(series, clusterings, models, NullLogger<MetaTrainingStep>.Instance)
            .TrainAsync(lastHistoryDay, new TrainingOptions { Iterations = 150, HistoryDays = 8, MaxSeriesPerCluster = 100 }, ct);

        var scoring = new MorningScoring(series, queries, clusterings, models, new RunLedger(dataSource), new ScoringOptions(),
            NullLogger<MorningScoring>.Instance);
        var summary = await scoring.RunAsync(new ScoringRequest(RunKind.Nightly, ScoringDay, "test"), ct);
        Lines = (await queries.SeriesOfRunAsync(summary.RunId, ct)).ToDictionary(l => l.SeriesKey);
        Scored = (await queries.ScoredDaysAsync(ct)).ToDictionary(d => d.SeriesKey);
        Flags = await queries.FlaggedOnAsync(ScoringDay, ct);

        // A new clustering, not trained yet, then a rescore: the first clustering's models keep scoring.
        NewClustering = await new ClusteringStep(series, clusterings, NullLogger<ClusteringStep>.Instance).RunAsync(ScoringDay, 21, ct);
        var rescore = await scoring.RunAsync(new ScoringRequest(RunKind.Rescore, ScoringDay, "test", "re-clustered, not retrained"), ct);
        LinesAfterReclustering = (await queries.SeriesOfRunAsync(rescore.RunId, ct)).ToDictionary(l => l.SeriesKey);

        // A training pass stopped half-way: one cluster of the new clustering has its model, the others none yet.
        var firstModel = (await models.LoadLatestAsync(1, ct))[0];
        await models.SaveAsync(NewClustering.Version, NewClustering.Clusters[0].ClusterId, firstModel.Algorithm, firstModel.ConfigurationJson,
            null, firstModel.Checkpoint, ct);
        var halfTrained = await scoring.RunAsync(new ScoringRequest(RunKind.Rescore, ScoringDay, "test", "half-trained"), ct);
        LinesHalfTrained = (await queries.SeriesOfRunAsync(halfTrained.RunId, ct)).ToDictionary(l => l.SeriesKey);
        RunHalfTrained = (await queries.RunAsync(halfTrained.RunId, ct))!;

        Retraining = await new MetaTrainingStep(series, clusterings, models, NullLogger<MetaTrainingStep>.Instance)
            .TrainAsync(ScoringDay.AddDays(-1), new TrainingOptions { Iterations = 150, HistoryDays = 8, MaxSeriesPerCluster = 100 }, ct);
        var retrained = await scoring.RunAsync(new ScoringRequest(RunKind.Rescore, ScoringDay, "test", "retrained"), ct);
        LinesRetrained = (await queries.SeriesOfRunAsync(retrained.RunId, ct)).ToDictionary(l => l.SeriesKey);
        RunRetrained = (await queries.RunAsync(retrained.RunId, ct))!;
    }

    public IReadOnlyDictionary<string, SeriesRunLine> LinesHalfTrained { get; private set; } = null!;

    public RunLine RunHalfTrained { get; private set; } = null!;

    public TrainingReport Retraining { get; private set; } = null!;

    public IReadOnlyDictionary<string, SeriesRunLine> LinesRetrained { get; private set; } = null!;

    public RunLine RunRetrained { get; private set; } = null!;

    public ClusteringReport NewClustering { get; private set; } = null!;

    public IReadOnlyDictionary<string, SeriesRunLine> LinesAfterReclustering { get; private set; } = null!;

    public Task DisposeAsync() => _database.DisposeAsync();

    /// <summary>A smooth daily cycle around 100 with a little noise; +40 from <paramref name="shiftFromHour"/> on.</summary>
    private static float[] Smooth(DateOnly day, int? shiftFromHour)
    {
        var random = new Random(day.DayNumber);
        var points = new float[24];
        for (int hour = 0; hour < 24; hour++)
        {
            double shift = shiftFromHour is int from && hour >= from ? 40 : 0;
            points[hour] = (float)(100 + (10 * Math.Sin(2 * Math.PI * hour / 24)) + random.NextDouble() + shift);
        }
        return points;
    }

    private static async Task WriteAsync(SeriesRepository series, string prefix, SyntheticSeriesGenerator generator, CancellationToken ct)
    {
        var options = generator.Options;
        var generated = Enumerable.Range(0, options.SeriesCount).Select(generator.Generate).ToList();
        await series.RegisterAndWriteAsync(
            generated.Select(g => new SeriesRegistration($"{prefix}/{g.Key}", 86400 / options.PointsPerDay)).ToList(),
            ids => generated.SelectMany(g => Enumerable.Range(0, options.TotalDays).Select(d =>
                new DayRow(ids[$"{prefix}/{g.Key}"], options.FirstDay.AddDays(d), g.Values.AsSpan(d * options.PointsPerDay, options.PointsPerDay).ToArray()))),
            ct);
    }
}

public sealed class CoverageTests(YoungFleetFixture fixture) : IClassFixture<YoungFleetFixture>
{
    [Fact]
    public void Training_skips_a_cluster_too_young_for_its_season_says_why_and_trains_the_others()
    {
        Assert.NotEmpty(fixture.Training.Trained);
        var weekly = fixture.Training.Skipped.FirstOrDefault(s => s.Reason.Contains("season 168", StringComparison.Ordinal));
        Assert.True(weekly is not null, "skipped: " + string.Join("; ", fixture.Training.Skipped.Select(s => $"{s.ClusterId}: {s.Reason}"))
            + " trained: " + string.Join("; ", fixture.Training.Trained.Select(t => $"{t.ClusterId}: season {t.SeasonLength}")));
        Assert.Contains("points a task needs", weekly.Reason, StringComparison.Ordinal);
        Assert.Equal([1800, 3600], fixture.Training.Generic.Select(g => g.StepSeconds).Order());
    }

    [Fact]
    public void Every_series_with_data_is_scored_the_next_morning()
    {
        Assert.All(fixture.Lines.Values, line => Assert.Equal("scored", line.Status));
        Assert.Equal(132, fixture.Lines.Count);
    }

    [Fact]
    public void A_series_is_scored_on_its_second_day_by_the_generic_model_of_its_step()
    {
        var line = fixture.Lines["late/second-day"];

        Assert.Equal("scored", line.Status);
        Assert.Equal(24, line.PointsScored);
        Assert.StartsWith("generic model of step 3600 s: not yet in clustering", line.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cluster_with_two_sampling_steps_scores_its_minority_step_with_the_generic_model_of_that_step()
    {
        var halfHourly = fixture.Lines.Values.Where(l => l.SeriesKey.StartsWith("half-hourly/", StringComparison.Ordinal)).ToList();

        Assert.Equal(10, halfHourly.Count);
        Assert.All(halfHourly, line =>
        {
            Assert.Equal("scored", line.Status);
            // The generator leaves a few points missing.
            Assert.InRange(line.PointsScored, 40, 48);
            Assert.StartsWith("generic model of step 1800 s", line.Detail, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void After_a_new_clustering_the_previous_clusterings_models_keep_scoring_until_the_new_ones_exist()
    {
        var hourly = fixture.LinesAfterReclustering.Values.Where(l => l.SeriesKey.StartsWith("hourly/", StringComparison.Ordinal)).ToList();
        var ownModel = fixture.Lines.Values.Where(l => l.SeriesKey.StartsWith("hourly/", StringComparison.Ordinal) && l.Detail is null)
            .Select(l => l.SeriesKey).ToHashSet();

        Assert.Equal(2, fixture.NewClustering.Version);
        Assert.All(hourly, line => Assert.Equal("scored", line.Status));
        // Every series its own cluster's model scored before is now scored by that same clustering's model.
        Assert.NotEmpty(ownModel);
        Assert.All(hourly.Where(l => ownModel.Contains(l.SeriesKey)), line =>
        {
            Assert.Matches(@"^cluster \d+ of clustering 1: clustering 2 is not live until training has been through all its clusters$", line.Detail);
        });
    }

    [Fact]
    public void A_clustering_with_some_of_its_models_does_not_score_and_the_live_one_scores_every_series()
    {
        var hourly = fixture.LinesHalfTrained.Values.Where(l => l.SeriesKey.StartsWith("hourly/", StringComparison.Ordinal)).ToList();

        Assert.Equal(1, fixture.RunHalfTrained.ClusteringVersion);
        Assert.All(hourly, line => Assert.Equal("scored", line.Status));
        // Not one series is scored by the new clustering's only model while its other clusters have none.
        Assert.DoesNotContain(fixture.LinesHalfTrained.Values, line => line.Detail is null || line.Detail.Contains("of clustering 2:", StringComparison.Ordinal));
        Assert.Equal(
            fixture.LinesAfterReclustering.Values.Select(l => (l.SeriesKey, l.Detail)).Order(),
            fixture.LinesHalfTrained.Values.Select(l => (l.SeriesKey, l.Detail)).Order());
    }

    [Fact]
    public void Once_training_has_been_through_every_cluster_the_new_clustering_scores_and_the_run_says_so()
    {
        Assert.Equal(fixture.NewClustering.Version, fixture.Retraining.LiveClustering);
        Assert.Equal(fixture.NewClustering.Version, fixture.RunRetrained.ClusteringVersion);
        Assert.All(fixture.LinesRetrained.Values, line => Assert.Equal("scored", line.Status));
        Assert.DoesNotContain(fixture.LinesRetrained.Values, line => line.Detail?.Contains("clustering 1", StringComparison.Ordinal) == true);
        // The series that arrived after the first clustering are in the second: their own cluster's model scores them.
        Assert.Null(fixture.LinesRetrained["late/level-shift"].Detail);
    }

    [Fact]
    public void A_level_shift_is_flagged_at_its_onset_and_not_for_the_rest_of_the_day()
    {
        var flags = fixture.Flags.Where(f => f.SeriesKey == "late/level-shift").ToList();
        var scores = fixture.Scored["late/level-shift"].Scores;

        var onset = Assert.Single(flags);
        Assert.Equal(YoungFleetFixture.LevelShiftHour, onset.Ts.Hour);
        Assert.Equal(scores.Max(), scores[YoungFleetFixture.LevelShiftHour]);
        // Not silenced but followed: from two hours after the shift the forecast starts from the new level.
        Assert.All(scores[(YoungFleetFixture.LevelShiftHour + 2)..], score => Assert.InRange(score, 0f, 0.3f));
    }
}
