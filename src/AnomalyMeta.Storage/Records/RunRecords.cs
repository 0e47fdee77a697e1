using AnomalyMeta.Core.Series;

namespace AnomalyMeta.Storage.Records;

/// <summary>Why a scoring run exists: the scheduled nightly run of a date, or a rescore someone asked for.</summary>
public enum RunKind
{
    Nightly,
    Rescore,
}

/// <summary>Where a scoring run stands.</summary>
public enum RunStatus
{
    /// <summary>Accepted (a rescore over HTTP) and waiting for the scheduler to run it.</summary>
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// <summary>What <c>RunLedger.StartAsync</c> did with the run it returns.</summary>
public enum RunStartOutcome
{
    /// <summary>A new run row was created.</summary>
    Started,

    /// <summary>The date's nightly run existed as running or failed and was set back to running: skip its completed series.</summary>
    Resumed,

    /// <summary>The date's nightly run already succeeded: nothing was changed, the caller decides whether to skip.</summary>
    AlreadySucceeded,
}

/// <summary>One row of the run ledger as stored; <paramref name="Scope"/> is a rescore's scope (null: every series).</summary>
public sealed record ScoringRunRecord(
    long RunId,
    RunKind Kind,
    DateOnly AsOf,
    RunStatus Status,
    int SeriesTotal,
    int SeriesScored,
    int SeriesSkipped,
    int AnomaliesWritten,
    int BatchesDone,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    long? ElapsedMs,
    string TriggeredBy,
    string? Reason,
    string? Error,
    RunScope? Scope = null);

/// <summary>The run <c>RunLedger.StartAsync</c> settled on, and whether it is new, resumed or already done.</summary>
public sealed record RunStart(RunStartOutcome Outcome, ScoringRunRecord Run);

/// <summary>
/// The result of one series in a batch: its status (Core's <see cref="SeriesStatus"/>, stored as the
/// <c>run_series.status</c> strings), a reason a person can act on, and how many points were scored.
/// </summary>
/// <paramref name="Forecast"/> and <paramref name="Scores"/> hold the scoring day's forecast and score of every point
/// (NaN where a point is missing) when the series was scored; <paramref name="State"/> the detector's state at the
/// end of the day, which the next morning starts from.
public readonly record struct SeriesOutcome(int SeriesId, SeriesStatus Status, string? Detail = null, int PointsScored = 0,
    float[]? Forecast = null, float[]? Scores = null, DetectorState? State = null);

/// <summary>
/// Where a series' detector stood at the end of a scored day, in the series' own units: the residual scale, the recent
/// largest residual, and its last flag (null when none that day).
/// </summary>
public readonly record struct DetectorState(float ResidualScale, float ResidualPeak, DateTime? LastFlag = null);

/// <summary>One flagged point. The run and the as-of date come with the batch it is committed in.</summary>
public readonly record struct AnomalyRow(
    int SeriesId,
    DateTimeOffset Ts,
    float Value,
    float Forecast,
    float LowerBand,
    float UpperBand,
    float Score);

/// <summary>
/// Database spellings of the ledger's enums; the strings are the schema's check-constraint values. Call these as
/// static methods on Core's <see cref="SeriesStatus"/> where another <c>ToDatabase</c> extension may be in scope.
/// </summary>
public static class LedgerNames
{
    public static string ToDatabase(this SeriesStatus status) => status switch
    {
        SeriesStatus.Scored => "scored",
        SeriesStatus.TooShort => "too_short",
        SeriesStatus.NonFinite => "non_finite",
        SeriesStatus.Constant => "constant",
        SeriesStatus.NoModel => "no_model",
        SeriesStatus.NoData => "no_data",
        SeriesStatus.Diverged => "diverged",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "Unknown series status."),
    };

    public static SeriesStatus ParseSeriesStatus(string value) => value switch
    {
        "scored" => SeriesStatus.Scored,
        "too_short" => SeriesStatus.TooShort,
        "non_finite" => SeriesStatus.NonFinite,
        "constant" => SeriesStatus.Constant,
        "no_model" => SeriesStatus.NoModel,
        "no_data" => SeriesStatus.NoData,
        "diverged" => SeriesStatus.Diverged,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown run_series.status."),
    };

    public static string ToDatabase(this RunKind kind) => kind switch
    {
        RunKind.Nightly => "nightly",
        RunKind.Rescore => "rescore",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown run kind."),
    };

    public static RunKind ParseRunKind(string value) => value switch
    {
        "nightly" => RunKind.Nightly,
        "rescore" => RunKind.Rescore,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown run.kind."),
    };

    public static string ToDatabase(this RunStatus status) => status switch
    {
        RunStatus.Queued => "queued",
        RunStatus.Running => "running",
        RunStatus.Succeeded => "succeeded",
        RunStatus.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "Unknown run status."),
    };

    public static RunStatus ParseRunStatus(string value) => value switch
    {
        "queued" => RunStatus.Queued,
        "running" => RunStatus.Running,
        "succeeded" => RunStatus.Succeeded,
        "failed" => RunStatus.Failed,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown run.status."),
    };
}
