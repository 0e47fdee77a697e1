namespace AnomalyMeta.Scoring.Training;

/// <summary>
/// A gap-free stretch of one series for meta-training. <see cref="FirstIndex"/> is the absolute index of the
/// first point (points since the epoch), so seasonal inputs match those used at scoring time.
/// </summary>
public sealed record TrainingHistory(int SeriesId, long FirstIndex, float[] Values);
