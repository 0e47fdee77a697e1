using AnomalyMeta.Scoring;
namespace AnomalyMeta.Benchmarks.Evaluation.Nab;

/// <summary>
/// Scores anomaly detections the way the Numenta Anomaly Benchmark does (numenta/NAB, <c>nab/sweeper.py</c>,
/// <c>optimizer.py</c>, <c>scorer.py</c>, <c>runner.py</c>; Lavin and Ahmad 2015):
/// <list type="bullet">
/// <item>The first <c>min(floor(p * n), p * 5000)</c> rows of a file (p = 0.15) are probationary and not scored, but
/// windows still open and close in them.</item>
/// <item>Inside a window only the best (earliest) detection counts: it earns tpWeight times a sigmoid of its position,
/// scaled so the window's first row earns tpWeight; a window without detection costs fnWeight.</item>
/// <item>A detection outside every window costs fpWeight, times 1 before the first window and less close behind the
/// previous window (the same sigmoid of the distance past it, in window widths).</item>
/// <item>The threshold is swept over every distinct score of the scored rows, over all files at once.</item>
/// <item>Scores are normalised to 100 * (raw - null) / (perfect - null), where the null detector scores every row 0.5
/// (its threshold swept too) and the perfect detector earns tpWeight for every labelled window.</item>
/// </list>
/// A row is a detection when its score is at or above the threshold.
/// </summary>
public sealed class NabScorer
{
    /// <summary>NAB's share of each file that is probationary.</summary>
    public const double DefaultProbationPercent = 0.15;

    /// <summary>The constant score of NAB's null detector.</summary>
    public const double NullDetectorScore = 0.5;

    // NAB starts its sweep at 1.1, above every score of a detector in [0, 1], so the first row is "no detection".
    private const double NoDetectionThreshold = 1.1;

    // The reward of a detection at a window's first row; TP rewards are divided by it so that row earns tpWeight.
    private static readonly double MaxTruePositive = ScaledSigmoid(-1.0);

    private readonly NabCorpus _corpus;
    // Built once for every file, so a scorer is immutable and can be shared across threads.
    private readonly Dictionary<string, FileLayout> _layouts;

    public NabScorer(NabCorpus corpus, double probationPercent = DefaultProbationPercent)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        if (!(probationPercent >= 0 && probationPercent < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(probationPercent), probationPercent, "The probationary share must be in [0, 1).");
        }
        _corpus = corpus;
        _layouts = corpus.Files.ToDictionary(f => f.RelativePath, f => new FileLayout(f, probationPercent), StringComparer.Ordinal);
    }

    public NabCorpus Corpus => _corpus;

    /// <summary>
    /// The number of leading rows NAB does not score: <c>min(floor(p * rows), p * 5000)</c>, so files longer than 5000
    /// rows have a probationary period of 750 rows at p = 0.15.
    /// </summary>
    public static int ProbationaryLength(int rowCount, double probationPercent) =>
        // NAB compares the row index with this (possibly fractional) bound, hence the ceiling.
        (int)Math.Ceiling(Math.Min(Math.Floor(probationPercent * rowCount), probationPercent * 5000));

    /// <summary>
    /// NAB's reward of a detection at a relative position: -1 at a window's start gives 0.987, 0 (just past its end)
    /// gives 0, positive positions (past the window, in window widths) go down to -1, and beyond 3 it is -1.
    /// </summary>
    public static double ScaledSigmoid(double relativePosition) =>
        relativePosition > 3.0 ? -1.0 : 2.0 / (1.0 + Math.Exp(5.0 * relativePosition)) - 1.0;

    /// <summary>The raw score and counts of <paramref name="detections"/> at one threshold, per file and in total.</summary>
    public NabThresholdScore ScoreAt(IReadOnlyList<NabDetections> detections, NabProfile profile, double threshold)
    {
        var checkedFiles = Check(detections);
        var files = new List<NabFileScore>(checkedFiles.Count);
        double total = 0;
        var counts = default(NabCounts);
        foreach (var (layout, scores) in checkedFiles)
        {
            var file = ScoreFile(layout, scores, profile, threshold);
            files.Add(file);
            total += file.RawScore;
            counts += file.Counts;
        }
        return new NabThresholdScore(threshold, total, counts, files);
    }

    /// <summary>The raw score at every distinct threshold over all the files together, and the best threshold.</summary>
    public NabSweep Sweep(IReadOnlyList<NabDetections> detections, NabProfile profile) =>
        SweepCore(Check(detections), profile);

    /// <summary>The null and perfect detectors over the given files (normalisation is always over the files scored).</summary>
    public NabBaseline Baseline(IEnumerable<string> relativePaths, NabProfile profile)
    {
        var layouts = relativePaths.Select(Layout).ToList();
        var nullDetections = layouts.Select(l => (l, Enumerable.Repeat(NullDetectorScore, l.File.Timestamps.Length).ToArray())).ToList();
        double nullScore = SweepCore(nullDetections, profile).Best.RawScore;
        double perfectScore = profile.TruePositiveWeight * layouts.Sum(l => l.File.Windows.Count);
        return new NabBaseline(nullScore, perfectScore);
    }

    /// <summary>
    /// Scores <paramref name="detections"/> under one profile: the best threshold of the sweep and, if
    /// <paramref name="threshold"/> is given, that fixed threshold; normalised over the same files, overall and per category.
    /// </summary>
    public NabProfileReport Evaluate(IReadOnlyList<NabDetections> detections, NabProfile profile, double? threshold = null)
    {
        var checkedFiles = Check(detections);
        var baseline = Baseline(checkedFiles.Select(c => c.Layout.File.RelativePath), profile);
        var categoryBaselines = checkedFiles
            .GroupBy(c => c.Layout.File.Category)
            .ToDictionary(g => g.Key, g => Baseline(g.Select(c => c.Layout.File.RelativePath), profile), StringComparer.Ordinal);
        var best = SweepCore(checkedFiles, profile).Best;
        var atBest = Result(best.Threshold);
        var atThreshold = threshold is { } fixedThreshold ? Result(fixedThreshold) : null;
        return new NabProfileReport(profile, baseline, atBest, atThreshold);

        NabThresholdResult Result(double at)
        {
            var (_, raw, counts, files) = ScoreAt(detections, profile, at);
            var categories = files
                .GroupBy(f => f.Category)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g =>
                {
                    double categoryRaw = g.Sum(f => f.RawScore);
                    var categoryBaseline = categoryBaselines[g.Key];
                    return new NabCategoryScore(
                        g.Key, g.Count(), g.Sum(f => f.Windows), g.Sum(f => f.WindowsDetected), categoryRaw, categoryBaseline,
                        categoryBaseline.Normalize(categoryRaw), g.Aggregate(default(NabCounts), (sum, f) => sum + f.Counts));
                })
                .ToList();
            return new NabThresholdResult(at, raw, baseline.Normalize(raw), counts, categories, files);
        }
    }

    /// <summary>Scores <paramref name="detections"/> under every profile of the corpus.</summary>
    public NabReport Evaluate(IReadOnlyList<NabDetections> detections, double? threshold = null) =>
        new([.. _corpus.Profiles.Select(profile => Evaluate(detections, profile, threshold))]);

    private static NabFileScore ScoreFile(FileLayout layout, double[] scores, NabProfile profile, double threshold)
    {
        var windowScores = new double[layout.File.Windows.Count];
        Array.Fill(windowScores, -profile.FalseNegativeWeight);
        var detected = new bool[windowScores.Length];
        double falsePositives = 0;
        int tp = 0, fp = 0, fn = 0, tn = 0;
        for (int i = layout.ProbationRows; i < scores.Length; i++)
        {
            bool detection = scores[i] >= threshold;
            int window = layout.WindowOfRow[i];
            if (window >= 0)
            {
                if (detection)
                {
                    tp++;
                    detected[window] = true;
                    windowScores[window] = Math.Max(windowScores[window], layout.Unweighted[i] * profile.TruePositiveWeight / MaxTruePositive);
                }
                else
                {
                    fn++;
                }
            }
            else if (detection)
            {
                fp++;
                falsePositives += layout.Unweighted[i] * profile.FalsePositiveWeight;
            }
            else
            {
                tn++;
            }
        }

        double raw = falsePositives;
        for (int w = 0; w < windowScores.Length; w++)
        {
            // A window wholly inside the probationary period is neither missed nor found (NAB never sees its rows).
            if (layout.Scored[w])
            {
                raw += windowScores[w];
            }
        }
        return new NabFileScore(layout.File.RelativePath, layout.File.Category, layout.File.Windows.Count, detected.Count(d => d), raw, new NabCounts(tp, fp, fn, tn));
    }

    /// <summary>
    /// NAB's sweep (<c>Sweeper.calcScoreByThreshold</c>): all scored rows of all files sorted by score, highest first;
    /// lowering the threshold to the next distinct score adds that score's rows as detections. Each window keeps its best
    /// reward and false positives add up, so the total updates in O(1) per row and the sweep costs one sort.
    /// </summary>
    private static NabSweep SweepCore(IReadOnlyList<(FileLayout Layout, double[] Scores)> files, NabProfile profile)
    {
        int rowCount = files.Sum(f => f.Scores.Length - f.Layout.ProbationRows);
        var keys = new double[rowCount];
        var points = new (double Reward, int Window)[rowCount];
        int windowBase = 0, scoredWindows = 0, n = 0;
        double maxScore = double.NegativeInfinity;
        foreach (var (layout, scores) in files)
        {
            for (int i = layout.ProbationRows; i < scores.Length; i++)
            {
                int window = layout.WindowOfRow[i];
                double reward = window >= 0
                    ? layout.Unweighted[i] * profile.TruePositiveWeight / MaxTruePositive
                    : layout.Unweighted[i] * profile.FalsePositiveWeight;
                keys[n] = -scores[i];
                points[n] = (reward, window >= 0 ? windowBase + window : -1);
                maxScore = Math.Max(maxScore, scores[i]);
                n++;
            }
            windowBase += layout.File.Windows.Count;
            scoredWindows += layout.Scored.Count(s => s);
        }
        Array.Sort(keys, points);

        var windowScores = new double[windowBase];
        Array.Fill(windowScores, -profile.FalseNegativeWeight);
        double windowTotal = -profile.FalseNegativeWeight * scoredWindows;
        double falsePositives = 0;
        int inWindows = points.Count(p => p.Window >= 0);
        int tp = 0, fp = 0, fn = inWindows, tn = rowCount - inWindows;

        // Above every score, so the first row is "no detection" even for scores beyond NAB's 1.1.
        double threshold = maxScore < NoDetectionThreshold ? NoDetectionThreshold : Math.BitIncrement(maxScore);
        var rows = new List<NabSweepRow>();
        for (int k = 0; k < rowCount; k++)
        {
            double score = -keys[k];
            if (score != threshold)
            {
                rows.Add(new NabSweepRow(threshold, windowTotal + falsePositives, new NabCounts(tp, fp, fn, tn)));
                threshold = score;
            }
            var (reward, window) = points[k];
            if (window >= 0)
            {
                tp++;
                fn--;
                if (reward > windowScores[window])
                {
                    windowTotal += reward - windowScores[window];
                    windowScores[window] = reward;
                }
            }
            else
            {
                fp++;
                tn--;
                falsePositives += reward;
            }
        }
        rows.Add(new NabSweepRow(threshold, windowTotal + falsePositives, new NabCounts(tp, fp, fn, tn)));

        var best = rows[0];
        foreach (var row in rows)
        {
            // Strictly greater: on a tie the higher threshold, which NAB's stable sort by score puts first.
            if (row.RawScore > best.RawScore)
            {
                best = row;
            }
        }
        return new NabSweep(rows, best);
    }

    /// <summary>Each detection matched with its corpus file: known path, one finite score per row, the file's timestamps.</summary>
    private List<(FileLayout Layout, double[] Scores)> Check(IReadOnlyList<NabDetections> detections)
    {
        ArgumentNullException.ThrowIfNull(detections);
        if (detections.Count == 0)
        {
            throw new ArgumentException("No detections to score.", nameof(detections));
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var checkedFiles = new List<(FileLayout, double[])>(detections.Count);
        foreach (var detection in detections)
        {
            if (!seen.Add(detection.RelativePath))
            {
                throw new ArgumentException($"Detections for '{detection.RelativePath}' appear twice.", nameof(detections));
            }
            var layout = Layout(detection.RelativePath);
            var timestamps = layout.File.Timestamps;
            if (detection.Scores.Length != timestamps.Length || detection.Timestamps.Length != timestamps.Length)
            {
                throw new InvalidDataException($"{detection.RelativePath}: {detection.Timestamps.Length} timestamps and {detection.Scores.Length} scores, but the data file has {timestamps.Length} rows.");
            }
            for (int i = 0; i < timestamps.Length; i++)
            {
                if (detection.Timestamps[i] != timestamps[i])
                {
                    throw new InvalidDataException($"{detection.RelativePath} row {i + 1}: detection timestamp {NabCsv.Format(detection.Timestamps[i])}, data file {NabCsv.Format(timestamps[i])}.");
                }
                if (!double.IsFinite(detection.Scores[i]))
                {
                    throw new InvalidDataException($"{detection.RelativePath} row {i + 1} ({NabCsv.Format(timestamps[i])}): anomaly score {detection.Scores[i]} is not finite.");
                }
            }
            checkedFiles.Add((layout, detection.Scores));
        }
        return checkedFiles;
    }

    // The corpus indexer names a path that is not in the corpus.
    private FileLayout Layout(string relativePath) =>
        _layouts.TryGetValue(relativePath, out var layout) ? layout : _layouts[_corpus[relativePath].RelativePath];

    /// <summary>
    /// What NAB's <c>calcSweepScore</c> computes per row, before any threshold or profile: the window the row is in and
    /// its unweighted reward (inside a window) or penalty (outside).
    /// </summary>
    private sealed class FileLayout
    {
        public FileLayout(NabDataFile file, double probationPercent)
        {
            File = file;
            var timestamps = file.Timestamps;
            int rows = timestamps.Length;
            ProbationRows = Math.Min(ProbationaryLength(rows, probationPercent), rows);
            WindowOfRow = new int[rows];
            Unweighted = new double[rows];
            Scored = new bool[file.Windows.Count];

            int nextWindow = 0, window = -1, right = -1, previousRight = -1;
            double width = 0, previousWidth = 0;
            for (int i = 0; i < rows; i++)
            {
                if (nextWindow < file.Windows.Count && timestamps[i] == file.Windows[nextWindow].Start)
                {
                    window = nextWindow++;
                    right = Array.IndexOf(timestamps, file.Windows[window].End, i);
                    width = right - i + 1;
                }

                if (window >= 0)
                {
                    // -1 at the window's first row, -1/width at its last.
                    Unweighted[i] = ScaledSigmoid(-(right - i + 1) / width);
                }
                else if (previousRight < 0)
                {
                    // Before the first window: as far from any window as can be.
                    Unweighted[i] = -1.0;
                }
                else
                {
                    // Distance past the previous window in its widths (NAB divides by width - 1; a one-row window
                    // gives +inf, hence the full penalty).
                    Unweighted[i] = ScaledSigmoid(Math.Abs(previousRight - i) / (previousWidth - 1));
                }

                WindowOfRow[i] = window;
                if (window >= 0 && i >= ProbationRows)
                {
                    Scored[window] = true;
                }
                if (window >= 0 && i == right)
                {
                    previousRight = i;
                    previousWidth = width;
                    window = -1;
                }
            }
        }

        public NabDataFile File { get; }

        public int ProbationRows { get; }

        /// <summary>Index of the file's window holding each row, -1 outside.</summary>
        public int[] WindowOfRow { get; }

        /// <summary>ScaledSigmoid of the row's position, before the profile's weights.</summary>
        public double[] Unweighted { get; }

        /// <summary>Windows with at least one row after the probationary period; only they can be found or missed.</summary>
        public bool[] Scored { get; }
    }
}
