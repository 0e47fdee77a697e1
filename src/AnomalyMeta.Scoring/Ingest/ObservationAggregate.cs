namespace AnomalyMeta.Scoring.Ingest;

/// <summary>
/// How the values that fall in one step slot (the timestamp floored to the series' step) become the slot's point:
/// off-grid readings, a finer feed than the series' step, or the same timestamp sent twice. Blank values are unknown,
/// not zero: every aggregate ignores them, and a slot with only blanks stays missing (NaN).
/// </summary>
public enum ObservationAggregate
{
    /// <summary>The mean of the slot's values (the default: a finer feed averaged onto the step).</summary>
    Mean,

    /// <summary>The sum of the slot's values (counts, volumes).</summary>
    Sum,

    /// <summary>The smallest value.</summary>
    Min,

    /// <summary>The largest value (peaks).</summary>
    Max,

    /// <summary>The value of the latest timestamp; for equal timestamps the later line of the file (a correction).</summary>
    Last,

    /// <summary>The value of the earliest timestamp; for equal timestamps the earlier line of the file.</summary>
    First,
}
