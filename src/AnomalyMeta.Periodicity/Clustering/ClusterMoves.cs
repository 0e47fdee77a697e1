namespace AnomalyMeta.Periodicity;

/// <summary>How many series changed cluster between two assignments of the same series (same order).</summary>
/// <param name="Compared">Series present in both assignments.</param>
/// <param name="Moved">Series whose cluster changed.</param>
/// <param name="Mapping">For re-clusterings: the previous cluster id each current id was matched to (-1: new cluster).</param>
public sealed record ClusterMoveReport(int Compared, int Moved, IReadOnlyDictionary<int, int> Mapping)
{
    public double MovedShare => Compared == 0 ? 0 : (double)Moved / Compared;
}

/// <summary>Counts series that moved since the last clustering.</summary>
public static class ClusterMoves
{
    /// <summary>
    /// Same clustering version (new series assigned to existing clusters, ids comparable): a series moved when its
    /// id differs. Negative ids mean "not assigned" and are skipped.
    /// </summary>
    public static ClusterMoveReport SameVersion(ReadOnlySpan<int> previous, ReadOnlySpan<int> current)
    {
        CheckLengths(previous, current);
        int compared = 0;
        int moved = 0;
        for (int i = 0; i < previous.Length; i++)
        {
            if (previous[i] < 0 || current[i] < 0)
            {
                continue;
            }

            compared++;
            if (previous[i] != current[i])
            {
                moved++;
            }
        }

        return new ClusterMoveReport(compared, moved, new Dictionary<int, int>());
    }

    /// <summary>
    /// Different versions (a re-clustering renumbers clusters): each current cluster is matched to the previous
    /// cluster it shares most series with (greedy on overlap, one-to-one), and a series moved when its previous
    /// cluster is not the one matched to its current cluster.
    /// </summary>
    public static ClusterMoveReport AcrossVersions(ReadOnlySpan<int> previous, ReadOnlySpan<int> current)
    {
        CheckLengths(previous, current);
        var overlap = new Dictionary<(int Previous, int Current), int>();
        for (int i = 0; i < previous.Length; i++)
        {
            if (previous[i] >= 0 && current[i] >= 0)
            {
                var key = (previous[i], current[i]);
                overlap[key] = overlap.GetValueOrDefault(key) + 1;
            }
        }

        var pairs = overlap.ToList();
        pairs.Sort((a, b) => b.Value != a.Value ? b.Value.CompareTo(a.Value) : a.Key.CompareTo(b.Key));
        var mapping = new Dictionary<int, int>();
        var usedPrevious = new HashSet<int>();
        int kept = 0;
        int compared = 0;
        foreach (var pair in pairs)
        {
            compared += pair.Value;
            if (!mapping.ContainsKey(pair.Key.Current) && usedPrevious.Add(pair.Key.Previous))
            {
                mapping[pair.Key.Current] = pair.Key.Previous;
                kept += pair.Value;
            }
        }

        foreach (var pair in pairs)
        {
            mapping.TryAdd(pair.Key.Current, -1);
        }

        return new ClusterMoveReport(compared, compared - kept, mapping);
    }

    private static void CheckLengths(ReadOnlySpan<int> previous, ReadOnlySpan<int> current)
    {
        if (previous.Length != current.Length)
        {
            throw new ArgumentException($"Assignments differ in length: {previous.Length} previous, {current.Length} current (same series, same order).");
        }
    }
}
