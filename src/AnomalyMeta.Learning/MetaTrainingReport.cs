namespace AnomalyMeta.Learning;

/// <summary>What a call to <see cref="MetaLearner.Train"/> did.</summary>
/// <param name="Iterations">Meta-updates performed (fewer than asked when cancelled).</param>
/// <param name="ElapsedSeconds">Wall-clock time of the training loop.</param>
/// <param name="FinalMetaLoss">Mean post-adaptation query loss over the last 10% of iterations (at least one).</param>
/// <param name="MetaLossCurve">Mean query loss per block of iterations (up to 100 blocks), for plots and sanity checks.</param>
public sealed record MetaTrainingReport(int Iterations, double ElapsedSeconds, double FinalMetaLoss, IReadOnlyList<double> MetaLossCurve)
{
    /// <summary>Meta-batches whose loss or gradient was not finite and that were skipped without an update (counted in <see cref="Iterations"/>).</summary>
    public int SkippedIterations { get; init; }

    public double IterationsPerSecond => ElapsedSeconds > 0 ? Iterations / ElapsedSeconds : 0;
}
