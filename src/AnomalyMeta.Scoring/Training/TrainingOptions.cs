using AnomalyMeta.Learning;

namespace AnomalyMeta.Scoring.Training;

/// <summary>How the meta-learner of each cluster is trained, bound from the "Training" section.</summary>
public sealed class TrainingOptions
{
    public const string Section = "Training";

    /// <summary>Meta-iterations per cluster.</summary>
    public int Iterations { get; set; } = 1000;

    /// <summary>
    /// Meta-SGD by default: it learns a step size per parameter, so the few steps of the morning adaptation go
    /// further than plain MAML's single learning rate (see the sinusoid benchmark in docs/benchmarks.md).
    /// </summary>
    public MetaAlgorithm Algorithm { get; set; } = MetaAlgorithm.MetaSgd;

    /// <summary>Inner steps during meta-training; the morning adaptation takes Scoring:AdaptationSteps.</summary>
    public int InnerSteps { get; set; } = 1;

    public float InnerLearningRate { get; set; } = 0.01f;

    public int MetaBatchSize { get; set; } = 25;

    /// <summary>Series sampled per cluster to cut tasks from: enough variety, bounded memory for millions of series.</summary>
    public int MaxSeriesPerCluster { get; set; } = 2000;

    /// <summary>Days of history read for training and clustering.</summary>
    public int HistoryDays { get; set; } = 28;

    public int Seed { get; set; } = 1;

    /// <summary>libtorch threads while training (see <see cref="MetaLearner.UseTorchThreads"/>).</summary>
    public int TorchThreads { get; set; } = 1;
}
