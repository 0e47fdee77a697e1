namespace AnomalyMeta.Periodicity.Tests;

public sealed class ClusteringTests
{
    private static readonly ClusteringOptions Options = new() { MinClusterSize = 10, MaxClustersPerGroup = 3, Version = 7 };

    private static List<SeriesProfile> Profiles(int seed, int perFamily)
    {
        var detector = new PeriodDetector(new PeriodDetectorOptions());
        var profiles = new List<SeriesProfile>();
        var random = new Random(seed);
        for (int i = 0; i < perFamily; i++)
        {
            profiles.Add(SeriesProfile.Create(SeriesFactory.Seasonal(random.Next(), 24 * 20, 24, noise: 0.2f), detector));
            profiles.Add(SeriesProfile.Create(SeriesFactory.Seasonal(random.Next(), 12 * 15, 12, noise: 0.2f), detector));
            profiles.Add(SeriesProfile.Create(SeriesFactory.RandomWalk(random.Next(), 400), detector));
        }

        return profiles;
    }

    [Fact]
    public void Period_groups_keep_aperiodic_series_apart_and_new_series_join_their_family()
    {
        List<SeriesProfile> profiles = Profiles(seed: 1, perFamily: 25);
        ClusterModel model = new PeriodicityClusterer().Fit(profiles, Options);

        Assert.Equal(7, model.Version);
        Assert.Contains(model.Groups, g => g.PrimaryPeriod == 0);
        Assert.Contains(model.Groups, g => g.PrimaryPeriod == 24);
        Assert.Contains(model.Groups, g => g.PrimaryPeriod == 12);
        Assert.All(model.Clusters, c => Assert.True(c.Size >= Options.MinClusterSize, $"cluster {c.Id} has {c.Size} series"));
        Assert.Equal(profiles.Count, model.Clusters.Sum(c => c.Size));

        foreach (SeriesProfile fresh in Profiles(seed: 2, perFamily: 3))
        {
            ClusterInfo cluster = model.Clusters[model.Assign(fresh)];
            Assert.Equal(fresh.GroupKey.Primary, cluster.PrimaryPeriod);
        }
    }

    [Fact]
    public void A_fleet_too_small_to_split_gets_one_cluster_per_period_group()
    {
        // 3 series per family: no group reaches two clusters of 10, so no k-means is tried at all.
        List<SeriesProfile> profiles = Profiles(seed: 11, perFamily: 3);

        ClusterModel model = new PeriodicityClusterer().Fit(profiles, Options);

        Assert.Equal(model.Groups.Count, model.Clusters.Count);
        Assert.Equal(profiles.Count, model.Clusters.Sum(c => c.Size));
    }

    [Fact]
    public void The_same_profiles_and_seed_give_the_same_clusters_however_the_trials_are_scheduled()
    {
        List<SeriesProfile> profiles = Profiles(seed: 12, perFamily: 40);

        string first = new PeriodicityClusterer().Fit(profiles, Options).ToJson();
        string second = new PeriodicityClusterer().Fit(profiles, Options).ToJson();

        Assert.Equal(first, second);
    }

    [Fact]
    public void Rare_periods_are_merged_into_the_nearest_group()
    {
        List<SeriesProfile> profiles = Profiles(seed: 3, perFamily: 20);
        var detector = new PeriodDetector(new PeriodDetectorOptions());
        var rare = SeriesProfile.Create(SeriesFactory.Seasonal(4, 23 * 20, 23, noise: 0.1f), detector);
        Assert.Equal(23, rare.Period.PrimaryPeriod);
        profiles.Add(rare);

        ClusterModel model = new PeriodicityClusterer().Fit(profiles, Options);

        Assert.DoesNotContain(model.Groups, g => g.PrimaryPeriod == 23);
        Assert.Equal(24, model.Clusters[model.Assign(rare)].PrimaryPeriod);
    }

    [Fact]
    public void A_model_read_back_from_json_assigns_like_the_original()
    {
        List<SeriesProfile> profiles = Profiles(seed: 5, perFamily: 20);
        ClusterModel model = new PeriodicityClusterer().Fit(profiles, Options);

        ClusterModel copy = ClusterModel.FromJson(model.ToJson());

        Assert.Equal(model.Version, copy.Version);
        Assert.Equal(model.Clusters.Count, copy.Clusters.Count);
        foreach (SeriesProfile profile in profiles)
        {
            Assert.Equal(model.Assign(profile), copy.Assign(profile));
        }

        // An unseen period pair goes to the group with the nearest season.
        var unseen = profiles[0] with { Period = new PeriodEstimate(PeriodStatus.Periodic, 25, 0, 0.9f) };
        Assert.Equal(24, copy.Clusters[copy.Assign(unseen)].PrimaryPeriod);
    }

    [Fact]
    public void Malformed_json_and_profiles_fail_with_a_clear_message()
    {
        var error = Assert.Throws<InvalidDataException>(() => ClusterModel.FromJson("{\"version\": 1}"));
        Assert.Contains("feature_means", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => ClusterModel.FromJson("{not json"));
        Assert.Throws<ArgumentException>(() => new PeriodicityClusterer().Fit([new SeriesProfile(default, new float[3])], Options));
        Assert.Throws<ArgumentException>(() => new PeriodicityClusterer().Fit([], Options));
    }

    [Fact]
    public void Moves_are_counted_by_id_within_a_version_and_by_overlap_across_versions()
    {
        int[] previous = [0, 0, 0, 1, 1, 2, -1];
        int[] sameVersion = [0, 0, 1, 1, 1, 2, 0];
        // A re-clustering that renames 0 -> 5, 1 -> 3, 2 -> 4 and moves one series.
        int[] renumbered = [5, 5, 3, 3, 3, 4, 4];

        Assert.Equal((6, 1), (ClusterMoves.SameVersion(previous, sameVersion).Compared, ClusterMoves.SameVersion(previous, sameVersion).Moved));
        ClusterMoveReport report = ClusterMoves.AcrossVersions(previous, renumbered);
        Assert.Equal(1, report.Moved);
        Assert.Equal(0, report.Mapping[5]);
        Assert.Equal(1, report.Mapping[3]);
        Assert.Throws<ArgumentException>(() => ClusterMoves.SameVersion([1], [1, 2]));
    }
}
