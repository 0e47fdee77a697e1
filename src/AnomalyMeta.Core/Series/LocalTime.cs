namespace AnomalyMeta.Core.Series;

/// <summary>
/// Where a series' points sit in its local time: daily and weekly cycles of human activity follow the wall clock, so
/// across a daylight-saving change a pattern moves by an hour in UTC. Phases are taken on the local clock, as the
/// number of points to add to a point's UTC index.
/// </summary>
public static class LocalTime
{
    /// <summary>The zone of an IANA (or Windows) id; UTC for null, empty or "UTC". Throws for an unknown id.</summary>
    public static TimeZoneInfo Zone(string? id) =>
        string.IsNullOrEmpty(id) || id == "UTC" ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(id);

    /// <summary>
    /// Writes, for <paramref name="shifts"/>.Length consecutive points from UTC index <paramref name="firstIndex"/>
    /// (points since the epoch at <paramref name="stepSeconds"/>), the zone's UTC offset in points. Offsets are looked
    /// up per day and per point only on a day when they change, so the cost stays a few calls per window.
    /// </summary>
    public static void Shifts(long firstIndex, int stepSeconds, TimeZoneInfo zone, Span<int> shifts)
    {
        if (zone == TimeZoneInfo.Utc)
        {
            shifts.Clear();
            return;
        }
        int perDay = 86400 / stepSeconds;
        int i = 0;
        while (i < shifts.Length)
        {
            long index = firstIndex + i;
            // Up to the end of the point's UTC day.
            int end = (int)Math.Min(shifts.Length, i + (perDay - (index % perDay)));
            int atStart = Offset(index, stepSeconds, zone);
            int atEnd = Offset(firstIndex + end - 1, stepSeconds, zone);
            if (atStart == atEnd)
            {
                shifts[i..end].Fill(atStart);
            }
            else
            {
                for (int j = i; j < end; j++)
                {
                    shifts[j] = Offset(firstIndex + j, stepSeconds, zone);
                }
            }
            i = end;
        }
    }

    // Point indexes count from 0001-01-01 (DateOnly.DayNumber × points per day), as DateTime ticks do.
    private static int Offset(long index, int stepSeconds, TimeZoneInfo zone)
    {
        var utc = new DateTime(index * stepSeconds * TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        return (int)Math.Round(zone.GetUtcOffset(utc).TotalSeconds / stepSeconds);
    }
}
