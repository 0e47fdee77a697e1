namespace AnomalyMeta.Storage.Records;

/// <summary>
/// One series of a <see cref="SeriesHistoryBatch"/>: what scoring needs to know about it, and where its window
/// sits in the batch's flat point buffer (<see cref="Offset"/>, <see cref="Length"/> = days × points per day).
/// </summary>
public readonly record struct SeriesHistory(
    int SeriesId,
    int StepSeconds,
    int? PrimaryPeriod,
    int? SecondaryPeriod,
    int? ClusterVersion,
    int? ClusterId,
    int Offset,
    int Length,
    int DaysObserved,
    bool HasAsOfDay,
    string TimeZone = "UTC")
{
    public int PointsPerDay => 86400 / StepSeconds;
}

/// <summary>
/// A batch of series with their last <see cref="DaysBack"/> days up to and including <see cref="AsOf"/>, oldest day
/// first. All windows share one flat buffer, so a batch allocates a handful of arrays however many series it
/// holds; a day with no stored row reads as NaN, like a missing point.
/// </summary>
public sealed class SeriesHistoryBatch
{
    private readonly SeriesHistory[] _series;
    private readonly float[] _points;
    private readonly int _pointCount;

    public SeriesHistoryBatch(DateOnly asOf, int daysBack, SeriesHistory[] series, int count, float[] points, int pointCount)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(points);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, series.Length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pointCount, points.Length);
        AsOf = asOf;
        DaysBack = daysBack;
        _series = series;
        Count = count;
        _points = points;
        _pointCount = pointCount;
    }

    public DateOnly AsOf { get; }

    public int DaysBack { get; }

    /// <summary>The first day of every window: <c>AsOf - (DaysBack - 1)</c>.</summary>
    public DateOnly FirstDay => AsOf.AddDays(1 - DaysBack);

    public int Count { get; }

    /// <summary>The batch's series in ascending series_id order.</summary>
    public ReadOnlySpan<SeriesHistory> Series => _series.AsSpan(0, Count);

    /// <summary>Every window back to back; slice with <see cref="SeriesHistory.Offset"/> and <see cref="SeriesHistory.Length"/>.</summary>
    public ReadOnlyMemory<float> Points => _points.AsMemory(0, _pointCount);

    /// <summary>The window of the series at <paramref name="index"/>: DaysBack × points per day values.</summary>
    public ReadOnlySpan<float> PointsOf(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        var series = _series[index];
        return _points.AsSpan(series.Offset, series.Length);
    }
}

/// <summary>
/// Days of history the series of each cluster of clustering <see cref="ClusterVersion"/> need, when fewer than a
/// batch's days back: a read leaves their older days unread (NaN, as missing). A series assigned to a newer clustering
/// since reads the window of its cluster in this one (the clustering that scores it); a series with no cluster here,
/// or of a cluster not listed, reads every day back.
/// </summary>
public sealed record ClusterWindows(int ClusterVersion, IReadOnlyDictionary<int, int> DaysByCluster);
