namespace AnomalyMeta.Core.Series;

/// <summary>
/// What happened to one series in a scoring run. A bad series is a status, never an exception: the batch goes on
/// and the on-call engineer reads the reason in <c>run_series</c>. Storage spells each as the database's check constraint does.
/// </summary>
public enum SeriesStatus
{
    /// <summary>Adapted, forecast and compared: its anomalies (possibly none) are written.</summary>
    Scored,
    /// <summary>Fewer observed points than one season of support plus something to score.</summary>
    TooShort,
    /// <summary>Infinite values in the window.</summary>
    NonFinite,
    /// <summary>
    /// The support window did not vary. No longer given: a constant series is scored (its scale has a floor, so any
    /// move is news); kept so that runs recorded before still read.
    /// </summary>
    Constant,
    /// <summary>The series' cluster has no trained meta-learner.</summary>
    NoModel,
    /// <summary>No observation at all on the scoring day.</summary>
    NoData,
    /// <summary>Adaptation or forecast gave a non-finite value: the series is skipped, the run goes on.</summary>
    Diverged,
}
