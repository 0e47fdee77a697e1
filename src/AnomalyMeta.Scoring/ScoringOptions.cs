using AnomalyMeta.Core.Detection;

namespace AnomalyMeta.Scoring;

/// <summary>Settings of a scoring run, bound from the "Scoring" configuration section.</summary>
public sealed class ScoringOptions
{
    public const string Section = "Scoring";

    /// <summary>Series read, adapted and committed together: the unit of work and of atomicity.</summary>
    public int BatchSize { get; set; } = 4096;

    /// <summary>
    /// Days read per series, at least: one season of support (a week for weekly-seasonal hourly data) and the scoring
    /// day. A model with a longer season gets the days it needs.
    /// </summary>
    public int DaysRead { get; set; } = 8;

    /// <summary>
    /// Gradient steps of the per-series adaptation. Unset: the steps each meta-learner was trained with, because
    /// MAML learns an initialisation for exactly that many steps (5 steps on a 1-step Meta-SGD model overshoot:
    /// F1 0.52 instead of 0.85 on the demo fleet).
    /// </summary>
    public int? AdaptationSteps { get; set; }

    public float Threshold { get; set; } = 5.5f;

    public float MinimumScale { get; set; } = 0.05f;

    /// <summary>Days after a flag during which the series is not flagged again (<see cref="DetectionOptions.QuietDays"/>).</summary>
    public float QuietDays { get; set; } = 0.5f;

    /// <summary>How far a point must exceed the recent largest residual (<see cref="DetectionOptions.PeakMargin"/>).</summary>
    public float PeakMargin { get; set; } = 1.5f;

    /// <summary>Half-life of the recent largest residual, in days (<see cref="DetectionOptions.PeakMemoryDays"/>).</summary>
    public float PeakMemoryDays { get; set; } = 1f;

    /// <summary>
    /// Shards of a run started by the service's morning job (series_id ranges, each a Quartz job that any instance of
    /// the cluster may take). 1: the whole run is one job on one instance.
    /// </summary>
    public int Shards { get; set; } = 1;

    /// <summary>What is wrong with these settings, each naming its setting (empty when they can work).</summary>
    public IEnumerable<string> Problems()
    {
        if (BatchSize is < 1 or > 1_000_000)
        {
            yield return $"Scoring:BatchSize must be in 1..1,000,000, found {BatchSize}.";
        }
        if (DaysRead is < 2 or > 366)
        {
            yield return $"Scoring:DaysRead must be in 2..366, found {DaysRead}.";
        }
        if (Shards is < 1 or > 1023)
        {
            yield return $"Scoring:Shards must be in 1..1023, found {Shards}.";
        }
        if (AdaptationSteps is < 0 or > 100)
        {
            yield return $"Scoring:AdaptationSteps must be in 0..100 or unset, found {AdaptationSteps}.";
        }
        if (!(Threshold > 0 && float.IsFinite(Threshold)))
        {
            yield return $"Scoring:Threshold must be a positive number, found {Threshold}.";
        }
        if (!(MinimumScale > 0 && float.IsFinite(MinimumScale)))
        {
            yield return $"Scoring:MinimumScale must be a positive number, found {MinimumScale}.";
        }
        if (!(QuietDays >= 0 && QuietDays <= 7) || !(PeakMargin >= 0 && float.IsFinite(PeakMargin)) || !(PeakMemoryDays > 0 && PeakMemoryDays <= 30))
        {
            yield return $"Scoring:QuietDays must be in 0..7, Scoring:PeakMargin non-negative and Scoring:PeakMemoryDays in (0, 30]; found {QuietDays}, {PeakMargin}, {PeakMemoryDays}.";
        }
    }

    public DetectionOptions Detection => new()
    {
        Threshold = Threshold,
        MinimumScale = MinimumScale,
        QuietDays = QuietDays,
        PeakMargin = PeakMargin,
        PeakMemoryDays = PeakMemoryDays,
    };
}
