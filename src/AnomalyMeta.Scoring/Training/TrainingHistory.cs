namespace AnomalyMeta.Scoring.Training;

/// <summary>
/// A gap-free stretch of one series for meta-training. <see cref="FirstIndex"/> is the absolute index of the
/// first point (points since the epoch), so seasonal inputs match those used at scoring time; <see cref="LocalShift"/>
/// the UTC offset of each point in points when the series keeps local time (null for UTC).
/// </summary>
public sealed record TrainingHistory(int SeriesId, long FirstIndex, float[] Values, int[]? LocalShift = null);
