namespace AnomalyMeta.Scoring.Runs;

/// <summary>
/// Where a run stands once a batch is committed, for the operator's progress line: the batch's place in the run
/// (batches are read in series id order, <see cref="ScoringOptions.BatchSize"/> series each) and the series done,
/// those a resumed run had committed before included.
/// </summary>
internal readonly record struct BatchProgress(int Batch, int BatchesTotal, int SeriesDone, int SeriesTotal);
