using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Tests;
using AnomalyMeta.Storage.Records;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Testing;

/// <summary>
/// A throwaway database holding <see cref="SmallFleet"/> ingested, clustered, trained and scored for the day before its
/// scoring day and for its scoring day by the real pipeline, plus <see cref="YoungSeries"/>: registered after the clustering, so the generic model scores
/// it. The operators' surfaces (query, API, plot) read it; linked into the test projects that need it.
/// </summary>
public sealed class ScoredFleetFixture : IAsyncLifetime
{
    /// <summary>A key with a '/', which a URL must carry as %2F.</summary>
    public const string YoungSeries = "young/0001";

    private readonly PostgresFixture _database = new();

    public string ConnectionString => _database.ConnectionString;

    public NpgsqlDataSource DataSource => _database.DataSource;

    public static DateOnly ScoringDay => SmallFleet.Options.ScoringDay;

    internal SmallFleet Fleet { get; private set; } = null!;

    public ScoringSummary Run { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        Fleet = new SmallFleet(_database.DataSource);
        await Fleet.PrepareAsync(CancellationToken.None);
        await AddYoungSeriesAsync();
        // Night after night, as the service runs: the scoring day starts from the detector state of the day before.
        await Fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, ScoringDay.AddDays(-1), "test"), CancellationToken.None);
        Run = await Fleet.Scoring().RunAsync(new ScoringRequest(RunKind.Nightly, ScoringDay, "test"), CancellationToken.None);
    }

    public Task DisposeAsync() => _database.DisposeAsync();

    /// <summary>Two days of history and the scoring day, hourly: enough for the generic model, too young for a cluster.</summary>
    private async Task AddYoungSeriesAsync()
    {
        var ids = await Fleet.Series.RegisterAsync([new SeriesRegistration(YoungSeries, 3600)], CancellationToken.None);
        var random = new Random(3);
        var rows = new List<DayRow>();
        for (int back = 2; back >= 0; back--)
        {
            var points = new float[24];
            for (int i = 0; i < points.Length; i++)
            {
                points[i] = (float)(50 + (10 * Math.Sin(2 * Math.PI * i / 24)) + random.NextDouble());
            }
            rows.Add(new DayRow(ids[YoungSeries], ScoringDay.AddDays(-back), points));
        }
        await Fleet.Series.WriteObservationsAsync(rows, CancellationToken.None);
    }

    /// <summary>The scored series with the most flags on the scoring day.</summary>
    public async Task<string> MostFlaggedSeriesAsync()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<string>(
            """
            select s.series_key from anomaly a join series s using (series_id)
            where a.as_of = @day group by s.series_key order by count(*) desc, s.series_key limit 1
            """,
            new { day = ScoringDay }) ?? throw new InvalidOperationException("The scored fleet has no flag on its scoring day.");
    }

    /// <summary>A series scored by its own cluster's model on the scoring day, without a flag.</summary>
    public async Task<string> QuietSeriesAsync()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<string>(
            """
            select s.series_key from run_series rs join series s using (series_id)
            where rs.run_id = @runId and rs.status = 'scored' and rs.detail is null and rs.anomaly_count = 0
            order by s.series_key limit 1
            """,
            new { runId = Run.RunId }) ?? throw new InvalidOperationException("Every scored series of the fleet has a flag.");
    }
}
