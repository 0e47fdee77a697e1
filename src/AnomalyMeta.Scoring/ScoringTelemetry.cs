using System.Diagnostics;
using System.Diagnostics.Metrics;
using AnomalyMeta.Storage.Records;

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

    // The SDK's default buckets (0 to 10,000) are made for milliseconds: a batch takes well under a minute.
    public static readonly Histogram<double> BatchSeconds = Meter.CreateHistogram<double>("anomalymeta.batch.duration", "s",
        "Time to score and commit one batch", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });

    public static readonly Counter<long> Runs = Meter.CreateCounter<long>("anomalymeta.runs", "{run}", "Scoring runs finished, by kind and status");

    // From seconds (a small fleet) to the hours a run must never take: 2M series score in about 5 minutes.
    public static readonly Histogram<double> RunSeconds = Meter.CreateHistogram<double>("anomalymeta.run.duration", "s",
        "Time of a scoring run, by kind and status", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200] });

    /// <summary>A run that ended: counted by kind and status (the ledger's spellings), its duration recorded.</summary>
    public static void RunFinished(RunKind kind, RunStatus status, TimeSpan elapsed)
    {
        var tags = new TagList { { "kind", LedgerNames.ToDatabase(kind) }, { "status", LedgerNames.ToDatabase(status) } };
        Runs.Add(1, tags);
        RunSeconds.Record(elapsed.TotalSeconds, tags);
    }
}
