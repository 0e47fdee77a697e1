using AnomalyMeta.Scoring;
namespace AnomalyMeta.Benchmarks.Evaluation.Nab;

/// <summary>
/// NAB's row counts at a threshold, over the scored (post-probation) rows: a row inside a window is a true positive when
/// its score reaches the threshold and a false negative otherwise; a row outside is a false positive or a true negative.
/// </summary>
public readonly record struct NabCounts(int TruePositives, int FalsePositives, int FalseNegatives, int TrueNegatives)
{
    public int Total => TruePositives + FalsePositives + FalseNegatives + TrueNegatives;

    public static NabCounts operator +(NabCounts a, NabCounts b) => new(
        a.TruePositives + b.TruePositives,
        a.FalsePositives + b.FalsePositives,
        a.FalseNegatives + b.FalseNegatives,
        a.TrueNegatives + b.TrueNegatives);
}

/// <summary>
/// One data file scored at a threshold. <c>Windows</c> counts the file's label windows, including any that lie wholly in
/// the probationary period; <c>WindowsDetected</c> those with a detection after it. <c>RawScore</c> is NAB's unnormalised
/// score: the sum of the window rewards (or -fnWeight for each window missed) and the false-positive penalties.
/// </summary>
public sealed record NabFileScore(string RelativePath, string Category, int Windows, int WindowsDetected, double RawScore, NabCounts Counts);

/// <summary>The raw score of all files at one threshold, with each file's score and counts.</summary>
public sealed record NabThresholdScore(double Threshold, double RawScore, NabCounts Counts, IReadOnlyList<NabFileScore> Files);

/// <summary>One point of the threshold sweep: detections are the scored rows with a score at or above <paramref name="Threshold"/>.</summary>
public sealed record NabSweepRow(double Threshold, double RawScore, NabCounts Counts);

/// <summary>
/// The raw score at every distinct threshold, from no detection down to every row detected, and the best of them: the
/// highest raw score and, on a tie, the highest threshold (NAB sorts the rows stably by score).
/// </summary>
public sealed record NabSweep(IReadOnlyList<NabSweepRow> Rows, NabSweepRow Best);

/// <summary>
/// The two ends of NAB's normalisation for a set of files and a profile: the null detector (a constant score, its
/// threshold swept like any detector's) and the perfect detector (every window found at its start, no false positive).
/// </summary>
public sealed record NabBaseline(double NullScore, double PerfectScore)
{
    /// <summary>100 * (raw - null) / (perfect - null); NaN when the files have no window, so nothing separates the two.</summary>
    public double Normalize(double rawScore) =>
        PerfectScore == NullScore ? double.NaN : 100.0 * (rawScore - NullScore) / (PerfectScore - NullScore);
}

/// <summary>The files of one category scored at a threshold and normalised by the category's own null and perfect detectors.</summary>
public sealed record NabCategoryScore(string Category, int Files, int Windows, int WindowsDetected, double RawScore, NabBaseline Baseline, double NormalizedScore, NabCounts Counts);

/// <summary>
/// All files scored at one threshold: the corpus figure, and per category and per file. <c>NormalizedScore</c> is NAB's
/// final score (null detector 0, perfect 100), NaN when the files have no window.
/// </summary>
public sealed record NabThresholdResult(
    double Threshold,
    double RawScore,
    double NormalizedScore,
    NabCounts Counts,
    IReadOnlyList<NabCategoryScore> Categories,
    IReadOnlyList<NabFileScore> Files);

/// <summary>A detector scored under one profile: at the best threshold of the sweep and, when asked, at a fixed threshold.</summary>
public sealed record NabProfileReport(NabProfile Profile, NabBaseline Baseline, NabThresholdResult Best, NabThresholdResult? AtThreshold);

/// <summary>A detector scored under every profile of the corpus.</summary>
public sealed record NabReport(IReadOnlyList<NabProfileReport> Profiles)
{
    public NabProfileReport this[string profileName] =>
        Profiles.FirstOrDefault(p => p.Profile.Name == profileName)
        ?? throw new ArgumentException($"No profile '{profileName}' in the report.", nameof(profileName));
}
