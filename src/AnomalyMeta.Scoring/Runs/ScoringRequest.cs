using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Runs;

/// <summary>
/// A request to score every series for one day. The nightly job asks for yesterday; the on-call engineer asks
/// for a rescore of any day, saying who and why (both land in the run ledger).
/// </summary>
public sealed record ScoringRequest(RunKind Kind, DateOnly AsOf, string TriggeredBy, string? Reason = null);

/// <summary>What a run did, as the ledger has it at the end.</summary>
public sealed record ScoringSummary(
    long RunId,
    DateOnly AsOf,
    bool AlreadyDone,
    int SeriesScored,
    int SeriesSkipped,
    int AnomaliesWritten,
    int Batches,
    TimeSpan Elapsed);
