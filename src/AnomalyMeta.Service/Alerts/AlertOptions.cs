namespace AnomalyMeta.Service.Alerts;

/// <summary>
/// Where a run's flags are posted, bound from the "Alerts" section and checked at start. With no route the delivery
/// step does nothing.
/// </summary>
public sealed class AlertOptions
{
    public const string Section = "Alerts";

    public List<AlertRoute> Routes { get; set; } = [];

    /// <summary>
    /// How far back, in hours, a succeeded run is still alerted: a route added today, or a webhook down all night, gets
    /// the runs finished since then, not every run of the ledger.
    /// </summary>
    public double CatchUpHours { get; set; } = 24;

    /// <summary>How often, in minutes, a pass looks for flags still owed (a failed delivery, a run scored by the CLI).</summary>
    public double SweepMinutes { get; set; } = 5;

    /// <summary>Attempts of one post within a pass (the first one and its retries).</summary>
    public int Attempts { get; set; } = 5;

    /// <summary>Delay before the first retry, in seconds; it doubles at each retry, with jitter.</summary>
    public double RetryDelaySeconds { get; set; } = 2;

    /// <summary>How long one attempt may take, in seconds.</summary>
    public double AttemptTimeoutSeconds { get; set; } = 10;

    public IEnumerable<string> Problems()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Routes.Count; i++)
        {
            var route = Routes[i];
            string at = $"Alerts:Routes:{i}";
            if (string.IsNullOrWhiteSpace(route.Name) || route.Name.Length > 100)
            {
                yield return $"{at}:Name must be a name of 1..100 characters, found '{route.Name}'.";
            }
            else if (!names.Add(route.Name))
            {
                // The name keys the delivery ledger: two routes of one name would settle each other's deliveries.
                yield return $"{at}:Name '{route.Name}' is used by another route.";
            }
            if (!Uri.TryCreate(route.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            {
                yield return $"{at}:Url must be an absolute http or https URL, found '{route.Url}'.";
            }
            if (!(route.MinScore is >= 0 and <= 1))
            {
                yield return $"{at}:MinScore must be in 0..1, found {route.MinScore}.";
            }
            foreach (var (key, value) in route.Tags)
            {
                if (string.IsNullOrEmpty(key) || value is null)
                {
                    yield return $"{at}:Tags needs a key and a value, found '{key}'='{value}'.";
                }
            }
        }
        if (!(CatchUpHours is > 0 and <= 24 * 31))
        {
            yield return $"Alerts:CatchUpHours must be in 0..744 (hours), found {CatchUpHours}.";
        }
        if (!(SweepMinutes is >= 0.01 and <= 24 * 60))
        {
            yield return $"Alerts:SweepMinutes must be in 0.01..1440, found {SweepMinutes}.";
        }
        if (Attempts is < 1 or > 20)
        {
            yield return $"Alerts:Attempts must be in 1..20, found {Attempts}.";
        }
        if (!(RetryDelaySeconds is >= 0.001 and <= 600))
        {
            yield return $"Alerts:RetryDelaySeconds must be in 0.001..600, found {RetryDelaySeconds}.";
        }
        if (!(AttemptTimeoutSeconds is >= 0.1 and <= 300))
        {
            yield return $"Alerts:AttemptTimeoutSeconds must be in 0.1..300, found {AttemptTimeoutSeconds}.";
        }
    }
}

/// <summary>
/// One alert route: every run's new flags of at least <see cref="MinScore"/> on series whose tags hold every pair of
/// <see cref="Tags"/> (none: every series), posted to <see cref="Url"/>.
/// </summary>
public sealed class AlertRoute
{
    /// <summary>The route's name: in the payload and the delivery ledger. Renaming a route makes it a new one.</summary>
    public string Name { get; set; } = "";

    /// <summary>series.tags key = value pairs the series must all have.</summary>
    public Dictionary<string, string> Tags { get; set; } = [];

    /// <summary>The lowest score posted (a flag scores 0.5 or more: 0 posts every flag).</summary>
    public float MinScore { get; set; }

    /// <summary>The webhook: a JSON POST per run.</summary>
    public string Url { get; set; } = "";
}
