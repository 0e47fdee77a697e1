namespace AnomalyMeta.Core.Series;

/// <summary>One checked line of a file: its UTC instant, its value (NaN when blank) and the line it came from.</summary>
public readonly record struct ObservationReading(long UtcTicks, float Value, int Line);
