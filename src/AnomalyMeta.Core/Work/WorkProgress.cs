namespace AnomalyMeta.Core.Work;

/// <summary>
/// How far a long piece of work has gone, reported through <see cref="IProgress{T}"/> by the steps (ingest, clustering,
/// training, scoring, evaluations) to whoever shows it: <paramref name="Done"/> of <paramref name="Total"/>
/// <paramref name="Unit"/> in <paramref name="Stage"/>, <paramref name="Total"/> null while it is not known. A report
/// may come from any thread.
/// </summary>
public readonly record struct WorkProgress(string Stage, long Done, long? Total, string Unit);
