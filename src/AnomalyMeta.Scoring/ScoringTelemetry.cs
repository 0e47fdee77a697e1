using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AnomalyMeta.Scoring;

/// <summary>The one ActivitySource and Meter of AnomalyMeta: a span per run and per batch, counters per run.</summary>
public static class ScoringTelemetry
{
    public const string Name = "AnomalyMeta";

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);

    public static readonly Counter<long> SeriesScored = Meter.CreateCounter<long>("anomalymeta.series.scored", "{series}");

    public static readonly Counter<long> SeriesSkipped = Meter.CreateCounter<long>("anomalymeta.series.skipped", "{series}");

    public static readonly Counter<long> AnomaliesWritten = Meter.CreateCounter<long>("anomalymeta.anomalies.written", "{anomaly}");

    public static readonly Histogram<double> BatchSeconds = Meter.CreateHistogram<double>("anomalymeta.batch.duration", "s");
}
