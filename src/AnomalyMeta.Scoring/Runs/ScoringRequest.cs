using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Runs;

/// <summary>
/// A request to score every series for one day. The nightly job asks for yesterday; the on-call engineer asks
/// for a rescore of any day, saying who and why (both land in the run ledger). <paramref name="QueuedRunId"/> is the
/// ledger row of a rescore recorded when it was accepted (<c>RunLedger.QueueAsync</c>). <paramref name="Scope"/> narrows a
/// rescore to some series (null: every series); a queued rescore takes the scope recorded on its row instead.
/// </summary>
public sealed record ScoringRequest(RunKind Kind, DateOnly AsOf, string TriggeredBy, string? Reason = null, long? QueuedRunId = null,
    RunScope? Scope = null);

/// <summary>What a run did, as the ledger has it at the end.</summary>
public sealed record ScoringSummary(
    long RunId,
    DateOnly AsOf,
    bool AlreadyDone,
    int SeriesScored,
    int SeriesSkipped,
    int AnomaliesWritten,
    int Batches,
    TimeSpan Elapsed,
    int SeriesNoData = 0,
    int SeriesTotal = 0,
    ScoringPhases? Phases = null)
{
    /// <summary>More than half the series had no data for the day: the feed is probably late (the run says so in its error column).</summary>
    public bool MostlyWithoutData => SeriesTotal > 0 && SeriesNoData * 2 > SeriesTotal;

    /// <summary>Not one series had data for the day: nothing could be scored.</summary>
    public bool NoDataAtAll => SeriesTotal > 0 && SeriesNoData == SeriesTotal;
}

/// <summary>Where a run's time went: reading windows and detector states, building tasks, adapting and forecasting, scoring, committing.</summary>
public sealed record ScoringPhases(TimeSpan Read, TimeSpan Encode, TimeSpan Adapt, TimeSpan Score, TimeSpan Write);

/// <summary>A sharded run as planned: its id and the shards still to score (empty when the date was already done).</summary>
public sealed record ShardedRun(long RunId, DateOnly AsOf, IReadOnlyList<int> PendingShards);

/// <summary>What one shard job did.</summary>
public enum ShardOutcome
{
    /// <summary>The shard's series were scored and committed.</summary>
    Scored,

    /// <summary>The shard was already done: a recovered or repeated job.</summary>
    AlreadyDone,

    /// <summary>Another instance holds the shard, or a whole-run scorer holds the date.</summary>
    Busy,

    /// <summary>The run is no longer running (finished, or failed by another shard).</summary>
    RunNotRunning,
}
