using AnomalyMeta.Core.Detection;
using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Storage.Copy;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>One flagged point of a series' day, as the scorer wrote it to <c>anomaly</c>; <paramref name="Index"/> is its point of the day.</summary>
public sealed record SeriesDayFlag(int Index, DateTime Ts, float Value, float Forecast, float LowerBand, float UpperBand, float Score, long RunId);

/// <summary>
/// One series' picture for one scoring date, from the latest run that scored it: the adaptation window (the last
/// <paramref name="SeasonLength"/> points before the day, starting at <paramref name="WindowStart"/>), the day's
/// values, forecast, band and scores (one per point from <paramref name="DayStart"/>, NaN where a point is missing),
/// the flagged points, and the series' status history across runs up to that date, newest first.
/// </summary>
/// <remarks>
/// The band is forecast ± <paramref name="BandHalfWidth"/>: the distance at which the scorer started the day flagging,
/// max(threshold × residual scale, peak margin × recent peak), from the detector state it carried over from
/// <paramref name="ScaleAsOf"/> (the day before, <c>run_series.residual_scale/residual_peak</c>). The scorer's scale then
/// moves point by point through the day and only its end is stored; that end already holds the day's own surprises
/// (a flag widens it), so it would draw a flagged point on the edge of a band it was far outside of. A series without a
/// scored day before falls back to threshold × its scale at the end of the day (<paramref name="ScaleAsOf"/> is then
/// the date itself). Each flag keeps the exact band it was flagged against (<c>anomaly.lower_band/upper_band</c>).
/// <paramref name="Model"/> names the meta-learner whose season set K, or says how K was found without it.
/// </remarks>
public sealed record SeriesDay(
    string SeriesKey,
    int StepSeconds,
    DateOnly Date,
    long RunId,
    string RunKind,
    string Status,
    string? Detail,
    int AnomalyCount,
    string Model,
    int SeasonLength,
    float Threshold,
    float ResidualScale,
    float ResidualPeak,
    DateOnly ScaleAsOf,
    float BandHalfWidth,
    DateTime WindowStart,
    float[] Window,
    DateTime DayStart,
    float[] Actual,
    float[] Forecast,
    float[] Lower,
    float[] Upper,
    float[] Scores,
    IReadOnlyList<SeriesDayFlag> Flags,
    IReadOnlyList<SeriesHistoryLine> History)
{
    public int PointsPerDay => Actual.Length;
}

/// <summary>
/// The answer of <see cref="SeriesDayQueries.DayAsync"/>: the picture, or a sentence saying why there is none (unknown
/// series, or a date the series was never scored on, with what its latest run of that date said).
/// </summary>
public sealed record SeriesDayLookup(SeriesDay? Day, string? Missing);

/// <summary>
/// What an operator looks at for one series and one day (the API's series page, <c>anomalymeta plot</c>): small Dapper
/// queries, one series at a time.
/// </summary>
public sealed class SeriesDayQueries(NpgsqlDataSource dataSource)
{
    private const int SecondsPerDay = 86400;

    /// <summary>Runs of the series' history returned with a day.</summary>
    public const int DefaultHistoryLength = 30;

    /// <param name="seriesKey">The series.</param>
    /// <param name="date">The scoring date (as-of).</param>
    /// <param name="detection">The detection settings (<c>Scoring:Threshold</c>, <c>Scoring:PeakMargin</c>): runs do not record the ones they used.</param>
    /// <param name="historyLength">Most runs of the series' history to return.</param>
    /// <param name="cancellationToken">Cancels the queries.</param>
    public async Task<SeriesDayLookup> DayAsync(string seriesKey, DateOnly date, DetectionOptions detection, int historyLength, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(seriesKey);
        ArgumentNullException.ThrowIfNull(detection);
        ArgumentOutOfRangeException.ThrowIfLessThan(historyLength, 1);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var series = await connection.QuerySingleOrDefaultAsync<SeriesRow>(new CommandDefinition(
            "select series_id as SeriesId, series_key as SeriesKey, step_seconds as StepSeconds from series where series_key = @seriesKey",
            new { seriesKey }, cancellationToken: cancellationToken));
        if (series is null)
        {
            return new SeriesDayLookup(null, $"There is no series '{seriesKey}'.");
        }

        // The latest run of the date that scored the series: a later rescore that scored it again replaced its flags.
        var scored = await connection.QuerySingleOrDefaultAsync<ScoredRow>(new CommandDefinition(
            """
            select rs.run_id as RunId, r.kind as Kind, rs.status as Status, rs.detail as Detail, rs.anomaly_count as AnomalyCount,
                   rs.forecast as Forecast, rs.scores as Scores, rs.residual_scale as ResidualScale, rs.residual_peak as ResidualPeak,
                   r.clustering_version as ClusteringVersion, r.model_ids as ModelIds
            from run_series rs join run r using (run_id)
            where rs.series_id = @seriesId and r.as_of = @date and rs.status = 'scored' and rs.forecast is not null
            order by rs.run_id desc
            limit 1
            """,
            new { seriesId = series.SeriesId, date }, cancellationToken: cancellationToken));
        if (scored is null)
        {
            return new SeriesDayLookup(null, await NotScoredAsync(connection, series, date, cancellationToken));
        }

        int pointsPerDay = SecondsPerDay / series.StepSeconds;
        var (model, seasonLength) = await SeasonOfAsync(connection, series, scored, pointsPerDay, cancellationToken);
        int daysBefore = (seasonLength + pointsPerDay - 1) / pointsPerDay;
        float[] points = await PointsAsync(connection, series.SeriesId, date.AddDays(-daysBefore), daysBefore + 1, pointsPerDay, cancellationToken);
        var actual = points[^pointsPerDay..];
        var window = points[^(seasonLength + pointsPerDay)..^pointsPerDay];

        // The state the scorer started the day from: the latest run of the day before that scored the series, before
        // this run (MorningScoring reads it the same way, AnomalyQueries.DetectorStatesAsync).
        var before = await connection.QuerySingleOrDefaultAsync<(float? Scale, float? Peak)>(new CommandDefinition(
            """
            select rs.residual_scale, rs.residual_peak
            from run_series rs join run r using (run_id)
            where rs.series_id = @seriesId and r.as_of = @dayBefore and rs.status = 'scored' and rs.run_id < @runId
            order by rs.run_id desc
            limit 1
            """,
            new { seriesId = series.SeriesId, dayBefore = date.AddDays(-1), runId = scored.RunId }, cancellationToken: cancellationToken));
        float threshold = detection.Threshold;
        var (scale, peak, scaleAsOf, halfWidth) = before.Scale is float startScale
            // A point is flagged when |actual - forecast| > threshold × max(scale, PeakMargin × peak / threshold).
            ? (startScale, before.Peak ?? 0f, date.AddDays(-1), Math.Max(threshold * startScale, detection.PeakMargin * (before.Peak ?? 0f)))
            : (scored.ResidualScale ?? float.NaN, scored.ResidualPeak ?? float.NaN, date, threshold * (scored.ResidualScale ?? float.NaN));
        var lower = new float[pointsPerDay];
        var upper = new float[pointsPerDay];
        for (int t = 0; t < pointsPerDay; t++)
        {
            // NaN where the point is missing: the forecast is.
            lower[t] = scored.Forecast[t] - halfWidth;
            upper[t] = scored.Forecast[t] + halfWidth;
        }

        var dayStart = date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var step = TimeSpan.FromSeconds(series.StepSeconds);
        var flags = (await connection.QueryAsync<FlagRow>(new CommandDefinition(
            """
            select ts as Ts, value as Value, forecast as Forecast, lower_band as LowerBand, upper_band as UpperBand, score as Score, run_id as RunId
            from anomaly
            where as_of = @date and series_id = @seriesId
            order by ts
            """,
            new { seriesId = series.SeriesId, date }, cancellationToken: cancellationToken)))
            .Select(f =>
            {
                var ts = DateTime.SpecifyKind(f.Ts, DateTimeKind.Utc);
                return new SeriesDayFlag((int)((ts - dayStart) / step), ts, f.Value, f.Forecast, f.LowerBand, f.UpperBand, f.Score, f.RunId);
            })
            .ToList();

        var history = (await connection.QueryAsync<SeriesHistoryLine>(new CommandDefinition(
            """
            select r.run_id as RunId, r.kind as Kind, r.as_of as AsOf, rs.status as Status, rs.detail as Detail,
                   rs.points_scored as PointsScored, rs.anomaly_count as AnomalyCount
            from run_series rs join run r using (run_id)
            where rs.series_id = @seriesId and r.as_of <= @date
            order by r.as_of desc, r.run_id desc
            limit @historyLength
            """,
            new { seriesId = series.SeriesId, date, historyLength }, cancellationToken: cancellationToken))).AsList();

        return new SeriesDayLookup(new SeriesDay(series.SeriesKey, series.StepSeconds, date, scored.RunId, scored.Kind, scored.Status,
            scored.Detail, scored.AnomalyCount, model, seasonLength, threshold, scale, peak, scaleAsOf, halfWidth, dayStart - (step * seasonLength), window,
            dayStart, actual, scored.Forecast, lower, upper, scored.Scores, flags, history), null);
    }

    /// <summary>Why a known series has no picture for the date: no run covered it, or the latest one did not score it.</summary>
    private static async Task<string> NotScoredAsync(NpgsqlConnection connection, SeriesRow series, DateOnly date, CancellationToken cancellationToken)
    {
        var latest = await connection.QuerySingleOrDefaultAsync<(long RunId, string Kind, string Status, string? Detail)>(new CommandDefinition(
            """
            select rs.run_id, r.kind, rs.status, rs.detail
            from run_series rs join run r using (run_id)
            where rs.series_id = @seriesId and r.as_of = @date
            order by rs.run_id desc
            limit 1
            """,
            new { seriesId = series.SeriesId, date }, cancellationToken: cancellationToken));
        string day = date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        return latest.RunId == 0
            ? $"Series '{series.SeriesKey}' was never scored for {day}: no run of that date covered it."
            : $"Series '{series.SeriesKey}' was never scored for {day}: its latest run of that date ({latest.Kind} run {latest.RunId}) "
                + $"left it {latest.Status}{(latest.Detail is null ? "" : $" ({latest.Detail})")}.";
    }

    /// <summary>
    /// K, the season the scoring model adapted on, and that model's name. run_series does not record the model, so it
    /// is found from what the run does record: the models it scored with (<c>run.model_ids</c>), the series' cluster
    /// in each model's clustering, and the status detail, which is empty for the series' own cluster's model in the
    /// run's clustering and otherwise starts with the name of the model that scored it. K is
    /// then that model's own <c>configuration.seasonLength</c>, the value scoring used. A model no longer stored
    /// leaves the series' periods in the run's clustering (or a day without them), shaped as scoring shapes them.
    /// </summary>
    private static async Task<(string Model, int SeasonLength)> SeasonOfAsync(NpgsqlConnection connection, SeriesRow series, ScoredRow scored,
        int pointsPerDay, CancellationToken cancellationToken)
    {
        // model_id and generic_model.model_id are separate sequences and model_ids holds both: a cluster model is only
        // taken when it is of the series' own cluster in its clustering, a generic one only for the series' step.
        var candidates = (await connection.QueryAsync<(int ModelId, int? ClusterVersion, int? ClusterId, int? SeasonLength)>(new CommandDefinition(
            """
            select m.model_id, m.cluster_version, m.cluster_id, (m.configuration ->> 'seasonLength')::int
            from model m
            join series_assignment sa on sa.series_id = @seriesId and sa.cluster_version = m.cluster_version and sa.cluster_id = m.cluster_id
            where m.model_id = any(@modelIds)
            union all
            select g.model_id, null, null, (g.configuration ->> 'seasonLength')::int
            from generic_model g
            where g.model_id = any(@modelIds) and g.step_seconds = @stepSeconds
            order by 1 desc
            """,
            new { seriesId = series.SeriesId, modelIds = scored.ModelIds ?? [], stepSeconds = series.StepSeconds },
            cancellationToken: cancellationToken))).AsList();

        bool generic = scored.Detail?.StartsWith("generic model", StringComparison.Ordinal) == true;
        foreach (var candidate in candidates)
        {
            string name = candidate.ClusterVersion is int v
                ? $"cluster {candidate.ClusterId} of clustering {v}"
                : $"generic model of step {series.StepSeconds} s";
            // A detail starts with the name of the model that scored the series when it is not plainly its own
            // cluster's in the run's clustering ("cluster 3 of clustering 2: ...", "generic model of step 3600 s: ...").
            bool chosen = generic
                ? candidate.ClusterVersion is null
                : candidate.ClusterVersion is int version && (scored.Detail is null
                    ? version == scored.ClusteringVersion
                    : scored.Detail.StartsWith(name + ":", StringComparison.Ordinal));
            if (chosen && candidate.SeasonLength > 0)
            {
                return ($"{name} (model {candidate.ModelId})", candidate.SeasonLength.Value);
            }
        }

        var periods = generic || scored.ClusteringVersion is null
            ? default
            : await connection.QuerySingleOrDefaultAsync<(int? Primary, int? Secondary)>(new CommandDefinition(
                "select primary_period, secondary_period from series_assignment where series_id = @seriesId and cluster_version = @version",
                new { seriesId = series.SeriesId, version = scored.ClusteringVersion }, cancellationToken: cancellationToken));
        int season = SeasonalTask.SeasonLength(periods.Primary ?? 0, periods.Secondary ?? 0, pointsPerDay);
        // Scoring repeats a short season until the support holds at least 48 points (ScoringModel.SupportSeason).
        const int MinimumSupport = 48;
        season *= (MinimumSupport + season - 1) / season;
        return ($"unknown: the scoring model is no longer stored; K from the series' periods ({season} points)", season);
    }

    /// <summary><paramref name="days"/> days of points from <paramref name="firstDay"/>, back to back; NaN where no day row is stored.</summary>
    private static async Task<float[]> PointsAsync(NpgsqlConnection connection, int seriesId, DateOnly firstDay, int days, int pointsPerDay,
        CancellationToken cancellationToken)
    {
        var points = new float[days * pointsPerDay];
        Array.Fill(points, float.NaN);
        var rows = await connection.QueryAsync<DayPoints>(new CommandDefinition(
            "select day as Day, points as Points from observation_day where series_id = @seriesId and day >= @firstDay and day <= @lastDay",
            new { seriesId, firstDay, lastDay = firstDay.AddDays(days - 1) }, cancellationToken: cancellationToken));
        foreach (var row in rows)
        {
            int offset = (DateOnly.FromDateTime(row.Day).DayNumber - firstDay.DayNumber) * pointsPerDay;
            int found = PointBytes.Read(row.Points, points.AsSpan(offset, pointsPerDay));
            if (found != pointsPerDay)
            {
                throw new InvalidDataException(
                    $"Series {seriesId} day {DateOnly.FromDateTime(row.Day):yyyy-MM-dd}: {found} points stored, {pointsPerDay} expected.");
            }
        }
        return points;
    }

    private sealed record SeriesRow(int SeriesId, string SeriesKey, int StepSeconds);

    // Dapper materialises real[] and integer[] into settable properties, not into a record's constructor.
    private sealed class ScoredRow
    {
        public long RunId { get; init; }

        public string Kind { get; init; } = "";

        public string Status { get; init; } = "";

        public string? Detail { get; init; }

        public int AnomalyCount { get; init; }

        public float[] Forecast { get; init; } = [];

        public float[] Scores { get; init; } = [];

        public float? ResidualScale { get; init; }

        public float? ResidualPeak { get; init; }

        public int? ClusteringVersion { get; init; }

        public int[]? ModelIds { get; init; }
    }

    private sealed class DayPoints
    {
        public DateTime Day { get; init; }

        public byte[] Points { get; init; } = [];
    }

    private sealed record FlagRow(DateTime Ts, float Value, float Forecast, float LowerBand, float UpperBand, float Score, long RunId);
}
