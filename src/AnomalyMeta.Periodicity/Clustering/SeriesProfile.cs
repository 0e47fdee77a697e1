namespace AnomalyMeta.Periodicity;

/// <summary>What clustering knows of one series: its periods and its <see cref="SeriesFeatures"/>.</summary>
/// <param name="Period">Periods found by <see cref="PeriodDetector"/>.</param>
/// <param name="Features">The <see cref="SeriesFeatures.Count"/> features from <see cref="SeriesFeatures.Extract"/>.</param>
public readonly record struct SeriesProfile(PeriodEstimate Period, float[] Features)
{
    /// <summary>Builds the profile of one series: detection then feature extraction.</summary>
    public static SeriesProfile Create(ReadOnlySpan<float> values, PeriodDetector detector)
    {
        ArgumentNullException.ThrowIfNull(detector);
        var features = new float[SeriesFeatures.Count];
        PeriodEstimate period = detector.DetectWithFeatures(values, features);
        return new SeriesProfile(period, features);
    }

    /// <summary>The period group key: (primary, secondary), or (0, 0) for aperiodic and too-short series.</summary>
    public (int Primary, int Secondary) GroupKey =>
        Period.Status == PeriodStatus.Periodic ? (Period.PrimaryPeriod, Period.SecondaryPeriod) : (0, 0);
}

/// <summary>Settings of <see cref="PeriodicityClusterer"/>.</summary>
public sealed class ClusteringOptions
{
    /// <summary>Version stamped on the model (the caller increments it per clustering run).</summary>
    public int Version { get; init; } = 1;

    /// <summary>
    /// No cluster smaller than this: a k whose k-means leaves a smaller cluster is not considered, and period groups
    /// smaller than this are merged into the nearest group (aperiodic series always keep their own group).
    /// </summary>
    public int MinClusterSize { get; init; } = 30;

    /// <summary>Largest k tried inside one period group.</summary>
    public int MaxClustersPerGroup { get; init; } = 6;

    /// <summary>A group stays one cluster unless its best k reaches a Davies-Bouldin index at or below this.</summary>
    public double MaxDaviesBouldin { get; init; } = 1.5;

    /// <summary>k-means runs on at most this many series per group (a seeded sample); all are then assigned.</summary>
    public int MaxFitSamplePerGroup { get; init; } = 50_000;

    /// <summary>Seed of ML.NET and of the sampling.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Throws when the options cannot work.</summary>
    public void Validate()
    {
        if (MinClusterSize < 1 || MaxClustersPerGroup < 1 || MaxFitSamplePerGroup < 2 || !(MaxDaviesBouldin > 0))
        {
            throw new ArgumentException(
                "ClusteringOptions: MinClusterSize and MaxClustersPerGroup must be at least 1, MaxFitSamplePerGroup at least 2 and MaxDaviesBouldin positive.");
        }
    }
}
