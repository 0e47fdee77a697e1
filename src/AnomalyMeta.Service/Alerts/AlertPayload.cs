using System.Text.Json;

namespace AnomalyMeta.Service.Alerts;

/// <summary>
/// The JSON body of one webhook post: one run's new flags for one route (camelCase, timestamps UTC ISO 8601, the day
/// as yyyy-MM-dd).
/// </summary>
public sealed record AlertPayload(long RunId, string Kind, DateOnly AsOf, string? Reason, string Route, int FlagCount,
    IReadOnlyList<AlertedAnomaly> Anomalies);

/// <summary>One flagged point: the value seen, the forecast and the band it left, its score and its series' tags.</summary>
public sealed record AlertedAnomaly(string SeriesKey, DateTime Ts, float Value, float Forecast, AlertBand Band, float Score, JsonElement Tags);

/// <summary>The band around the forecast the value left (the scorer's distance to flag when the day started).</summary>
public sealed record AlertBand(float Lower, float Upper);
