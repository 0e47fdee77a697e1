using AnomalyMeta.Core.Synthetic;
using AnomalyMeta.Scoring.Clustering;
using AnomalyMeta.Scoring.Ingest;
using AnomalyMeta.Scoring.Runs;
using AnomalyMeta.Scoring.Training;
using AnomalyMeta.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AnomalyMeta.Scoring.Tests;

/// <summary>The real pipeline on a small generated fleet in a throwaway database: ingest, cluster, train.</summary>
internal sealed class SmallFleet
{
    public static readonly SyntheticFleetOptions Options = new() { SeriesCount = 400, HistoryDays = 21, Seed = 11 };

    public SmallFleet(NpgsqlDataSource dataSource)
    {
        Series = new SeriesRepository(dataSource);
        Clusterings = new ClusteringStore(dataSource);
        Models = new ModelStore(dataSource);
        Ledger = new RunLedger(dataSource);
        Queries = new AnomalyQueries(dataSource);
        Generator = new SyntheticSeriesGenerator(Options);
    }

    public SeriesRepository Series { get; }
    public ClusteringStore Clusterings { get; }
    public ModelStore Models { get; }
    public RunLedger Ledger { get; }
    public AnomalyQueries Queries { get; }
    public SyntheticSeriesGenerator Generator { get; }

    public static TrainingOptions Training => new() { Iterations = 300, HistoryDays = Options.HistoryDays, MaxSeriesPerCluster = 200 };

    public async Task<ClusteringReport> PrepareAsync(CancellationToken cancellationToken)
    {
        await new SyntheticFleetIngest(Series).IngestAsync(Generator, cancellationToken);
        var lastHistoryDay = Options.ScoringDay.AddDays(-1);
        var report = await new ClusteringStep(Series, Clusterings, NullLogger<ClusteringStep>.Instance)
            .RunAsync(lastHistoryDay, Options.HistoryDays, cancellationToken);
        await new MetaTrainingStep(Series, Clusterings, Models, NullLogger<MetaTrainingStep>.Instance)
            .TrainAsync(lastHistoryDay, Training, cancellationToken);
        return report;
    }

    public MorningScoring Scoring(ScoringOptions? options = null) =>
        new(Series, Queries, Clusterings, Models, Ledger, options ?? new ScoringOptions(), NullLogger<MorningScoring>.Instance);
}
