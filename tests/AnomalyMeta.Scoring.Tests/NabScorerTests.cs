using AnomalyMeta.Benchmarks.Evaluation.Nab;

namespace AnomalyMeta.Scoring.Tests;

/// <summary>
/// NAB scoring on tiny hand-built corpora. The main file has 100 one-minute rows, a probationary period of
/// floor(0.15 * 100) = 15 rows and one window over rows 40..49 (width 10). Expected figures are worked out from NAB's
/// rules by hand: a detection at relative position x in a window earns (2 / (1 + e^(5x)) - 1) / 0.98661, a false
/// positive costs fpWeight times the same sigmoid of its distance past the previous window in (width - 1) rows, or
/// fpWeight in full before the first window.
/// </summary>
public sealed class NabScorerTests : IDisposable
{
    private const double Tolerance = 1e-6;
    private const int Rows = 100;
    private const string MainFile = "catA/one_window.csv";
    private static readonly DateTime Start = new(2014, 4, 1, 0, 0, 0);

    private readonly string _directory = Directory.CreateTempSubdirectory("anomalymeta-nab-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static DateTime[] Minutes(int rows) => [.. Enumerable.Range(0, rows).Select(i => Start.AddMinutes(i))];

    private static NabDataFile File(string relativePath, int rows, params (int First, int Last)[] windows)
    {
        var timestamps = Minutes(rows);
        return new NabDataFile(relativePath, timestamps, [.. Enumerable.Range(0, rows).Select(i => (double)i)],
            [.. windows.Select(w => new NabWindow(timestamps[w.First], timestamps[w.Last]))]);
    }

    private static NabCorpus MainCorpus() => new([File(MainFile, Rows, (40, 49))]);

    /// <summary>Scores 0 everywhere except 1 at the given rows.</summary>
    private static NabDetections Detect(NabDataFile file, params int[] rows)
    {
        var scores = new double[file.Timestamps.Length];
        foreach (int row in rows)
        {
            scores[row] = 1.0;
        }
        return new NabDetections(file.RelativePath, file.Timestamps, scores);
    }

    private static double RawAtOne(NabCorpus corpus, NabProfile profile, params NabDetections[] detections) =>
        new NabScorer(corpus).ScoreAt(detections, profile, 1.0).RawScore;

    [Theory]
    [InlineData(100, 15)]
    [InlineData(4033, 604)]
    [InlineData(5000, 750)]
    [InlineData(22695, 750)]
    public void The_probationary_period_is_15_percent_of_the_file_and_at_most_750_rows(int rows, int expected)
    {
        Assert.Equal(expected, NabScorer.ProbationaryLength(rows, NabScorer.DefaultProbationPercent));
    }

    [Fact]
    public void A_detection_at_the_start_of_the_window_earns_the_full_true_positive_weight_and_scores_100()
    {
        var corpus = MainCorpus();
        var scorer = new NabScorer(corpus);
        var detections = new[] { Detect(corpus[MainFile], 40) };

        var score = scorer.ScoreAt(detections, NabProfile.Standard, 1.0);
        var report = scorer.Evaluate(detections, NabProfile.Standard, threshold: 1.0);

        Assert.Equal(1.0, score.RawScore, Tolerance);
        Assert.Equal(new NabCounts(TruePositives: 1, FalsePositives: 0, FalseNegatives: 9, TrueNegatives: 75), score.Counts);
        Assert.Equal(100.0, report.AtThreshold!.NormalizedScore, Tolerance);
        Assert.Equal(-1.0, report.Baseline.NullScore, Tolerance);
        Assert.Equal(1.0, report.Baseline.PerfectScore, Tolerance);
    }

    [Fact]
    public void A_detection_in_the_middle_of_the_window_earns_less_and_only_the_earliest_detection_counts()
    {
        var corpus = MainCorpus();
        var file = corpus[MainFile];

        // Row 45 sits at x = -(49 - 45 + 1) / 10 = -0.5: (2 / (1 + e^-2.5) - 1) / 0.98661 = 0.85979.
        Assert.Equal(0.8597926, RawAtOne(corpus, NabProfile.Standard, Detect(file, 45)), 1e-6);
        Assert.Equal(0.8597926, RawAtOne(corpus, NabProfile.Standard, Detect(file, 45, 46, 48)), 1e-6);
        // The last row of the window, x = -0.1: 0.24824.
        Assert.Equal(0.2482415, RawAtOne(corpus, NabProfile.Standard, Detect(file, 49)), 1e-6);
        Assert.Equal(1.0, RawAtOne(corpus, NabProfile.Standard, Detect(file, 40, 45, 49)), Tolerance);
    }

    [Fact]
    public void A_missed_window_costs_the_false_negative_weight_of_the_profile()
    {
        var corpus = MainCorpus();
        var file = corpus[MainFile];

        Assert.Equal(-1.0, RawAtOne(corpus, NabProfile.Standard, Detect(file)), Tolerance);
        Assert.Equal(-2.0, RawAtOne(corpus, NabProfile.RewardLowFalseNegativeRate, Detect(file)), Tolerance);
    }

    [Fact]
    public void A_false_positive_far_from_a_window_costs_the_full_weight_and_one_just_after_a_window_costs_little()
    {
        var corpus = MainCorpus();
        var file = corpus[MainFile];

        // Before the first window: -fpWeight = -0.11, plus the missed window.
        Assert.Equal(-1.11, RawAtOne(corpus, NabProfile.Standard, Detect(file, 20)), Tolerance);
        Assert.Equal(-1.22, RawAtOne(corpus, NabProfile.RewardLowFalsePositiveRate, Detect(file, 20)), Tolerance);
        // One row past the window: 0.11 * (2 / (1 + e^(5/9)) - 1) = -0.02979.
        Assert.Equal(-1.0 - 0.0297932, RawAtOne(corpus, NabProfile.Standard, Detect(file, 50)), 1e-6);
        // Six rows past: 0.11 * (2 / (1 + e^(5 * 6/9)) - 1) = -0.10242.
        Assert.Equal(-1.0 - 0.1024221, RawAtOne(corpus, NabProfile.Standard, Detect(file, 55)), 1e-6);
        // More than three widths past (rows 77+): the full penalty again.
        Assert.Equal(-1.11, RawAtOne(corpus, NabProfile.Standard, Detect(file, 90)), Tolerance);
        // A hit and a near miss add up.
        Assert.Equal(1.0 - 0.0297932, RawAtOne(corpus, NabProfile.Standard, Detect(file, 40, 50)), 1e-6);
    }

    [Fact]
    public void Rows_of_the_probationary_period_are_not_scored()
    {
        var corpus = MainCorpus();
        var file = corpus[MainFile];

        var score = new NabScorer(corpus).ScoreAt([Detect(file, 3, 14)], NabProfile.Standard, 1.0);

        Assert.Equal(-1.0, score.RawScore, Tolerance);
        Assert.Equal(new NabCounts(0, 0, 10, 75), score.Counts);
        Assert.Equal(85, score.Counts.Total);
    }

    [Fact]
    public void A_window_inside_the_probationary_period_is_neither_missed_nor_found_but_counts_for_the_perfect_detector()
    {
        var corpus = new NabCorpus([File("catA/early.csv", Rows, (5, 9), (40, 49))]);
        var file = corpus["catA/early.csv"];
        var scorer = new NabScorer(corpus);

        var missedBoth = scorer.ScoreAt([Detect(file)], NabProfile.Standard, 1.0);
        var baseline = scorer.Baseline([file.RelativePath], NabProfile.Standard);

        Assert.Equal(-1.0, missedBoth.RawScore, Tolerance);
        Assert.Equal(-1.0, baseline.NullScore, Tolerance);
        Assert.Equal(2.0, baseline.PerfectScore, Tolerance);
        // Row 30 lies more than three widths past the early window (|9 - 30| / (5 - 1) > 3): the full penalty.
        Assert.Equal(-1.11, scorer.ScoreAt([Detect(file, 30)], NabProfile.Standard, 1.0).RawScore, Tolerance);
        // Row 12, in the probationary period, is not scored even though it follows the early window.
        Assert.Equal(-1.0, scorer.ScoreAt([Detect(file, 12)], NabProfile.Standard, 1.0).RawScore, Tolerance);
    }

    [Fact]
    public void The_null_detector_scores_0_and_the_perfect_detector_100_on_every_profile()
    {
        var corpus = new NabCorpus(
        [
            File("catA/one.csv", Rows, (40, 49)),
            File("catA/two.csv", 200, (60, 79), (120, 139)),
            File("catB/none.csv", Rows),
        ]);
        var scorer = new NabScorer(corpus);
        var nullDetections = corpus.Files
            .Select(f => new NabDetections(f.RelativePath, f.Timestamps, [.. f.Timestamps.Select(_ => NabScorer.NullDetectorScore)]))
            .ToList();
        var perfect = corpus.Files
            .Select(f => Detect(f, [.. f.Windows.Select(w => Array.IndexOf(f.Timestamps, w.Start))]))
            .ToList();

        foreach (var profile in NabProfile.All)
        {
            var nullReport = scorer.Evaluate(nullDetections, profile);
            var perfectReport = scorer.Evaluate(perfect, profile, threshold: 1.0);

            Assert.Equal(0.0, nullReport.Best.NormalizedScore, Tolerance);
            Assert.Equal(-3.0 * profile.FalseNegativeWeight, nullReport.Baseline.NullScore, Tolerance);
            Assert.Equal(100.0, perfectReport.AtThreshold!.NormalizedScore, Tolerance);
            Assert.Equal(100.0, perfectReport.Best.NormalizedScore, Tolerance);
            var categories = perfectReport.AtThreshold.Categories;
            Assert.Equal<string>(["catA", "catB"], categories.Select(c => c.Category));
            Assert.Equal(100.0, categories[0].NormalizedScore, Tolerance);
            // A category without windows has nothing to normalise by.
            Assert.True(double.IsNaN(categories[1].NormalizedScore));
        }
    }

    [Fact]
    public void The_sweep_picks_the_best_threshold_and_the_higher_one_on_a_tie()
    {
        var corpus = MainCorpus();
        var file = corpus[MainFile];
        var scores = new double[Rows];
        scores[20] = 0.95;   // false positive before the window: -0.11
        scores[40] = 0.9;    // window start: +1
        scores[45] = 0.8;    // later in the window: changes nothing, a tie with 0.9
        scores[60] = 0.7;    // 11 rows past the window: 0.11 * (2 / (1 + e^(5 * 11/9)) - 1) = -0.10951
        var detections = new[] { new NabDetections(file.RelativePath, file.Timestamps, scores) };
        var scorer = new NabScorer(corpus);

        var sweep = scorer.Sweep(detections, NabProfile.Standard);
        var report = scorer.Evaluate(detections, NabProfile.Standard);

        Assert.Equal<double>([1.1, 0.95, 0.9, 0.8, 0.7, 0.0], sweep.Rows.Select(r => r.Threshold));
        Assert.Equal(-1.0, sweep.Rows[0].RawScore, Tolerance);
        Assert.Equal(-1.11, sweep.Rows[1].RawScore, Tolerance);
        Assert.Equal(0.89, sweep.Rows[2].RawScore, Tolerance);
        Assert.Equal(0.89, sweep.Rows[3].RawScore, Tolerance);
        Assert.Equal(0.89 - 0.1095131, sweep.Rows[4].RawScore, 1e-6);
        Assert.Equal(new NabCounts(10, 75, 0, 0), sweep.Rows[5].Counts);
        Assert.Equal(0.9, sweep.Best.Threshold);
        Assert.Equal(0.9, report.Best.Threshold);
        Assert.Equal(100.0 * (0.89 + 1.0) / 2.0, report.Best.NormalizedScore, Tolerance);
        Assert.Equal(new NabCounts(1, 1, 9, 74), report.Best.Counts);
    }

    [Fact]
    public void The_sweep_over_several_files_agrees_with_scoring_each_threshold()
    {
        var corpus = new NabCorpus([File("catA/one.csv", Rows, (40, 49)), File("catB/two.csv", 200, (60, 79), (120, 139))]);
        var random = new Random(7);
        var detections = corpus.Files
            .Select(f => new NabDetections(f.RelativePath, f.Timestamps, [.. f.Timestamps.Select(_ => Math.Round(random.NextDouble(), 2))]))
            .ToList();
        var scorer = new NabScorer(corpus);

        var sweep = scorer.Sweep(detections, NabProfile.Standard);

        foreach (var row in sweep.Rows)
        {
            var direct = scorer.ScoreAt(detections, NabProfile.Standard, row.Threshold);
            Assert.Equal(direct.RawScore, row.RawScore, 1e-9);
            Assert.Equal(direct.Counts, row.Counts);
        }
        Assert.Equal(sweep.Rows.Max(r => r.RawScore), sweep.Best.RawScore);
    }

    [Fact]
    public void Detections_that_do_not_match_the_data_file_are_refused_with_the_file_and_row()
    {
        var corpus = MainCorpus();
        var file = corpus[MainFile];
        var scorer = new NabScorer(corpus);
        var shifted = file.Timestamps.ToArray();
        shifted[7] = shifted[7].AddSeconds(1);

        var wrongTime = Assert.Throws<InvalidDataException>(() => scorer.ScoreAt([new NabDetections(MainFile, shifted, new double[Rows])], NabProfile.Standard, 0.5));
        var tooShort = Assert.Throws<InvalidDataException>(() => scorer.ScoreAt([new NabDetections(MainFile, file.Timestamps[..50], new double[50])], NabProfile.Standard, 0.5));
        var unknown = Assert.Throws<InvalidDataException>(() => scorer.ScoreAt([new NabDetections("catA/other.csv", file.Timestamps, new double[Rows])], NabProfile.Standard, 0.5));

        Assert.Contains("catA/one_window.csv row 8", wrongTime.Message, StringComparison.Ordinal);
        Assert.Contains("the data file has 100 rows", tooShort.Message, StringComparison.Ordinal);
        Assert.Contains("'catA/other.csv'", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corpus_directory_is_read_with_its_windows_and_profiles()
    {
        WriteCorpus(windowEnd: "2014-04-01 00:49:00.000000");

        var corpus = NabCorpus.Load(_directory);

        var file = Assert.Single(corpus.Files);
        Assert.Equal(MainFile, file.RelativePath);
        Assert.Equal("catA", file.Category);
        Assert.Equal(Rows, file.Timestamps.Length);
        Assert.Equal(2.5, file.Values[1]);
        Assert.Equal(new NabWindow(Start.AddMinutes(40), Start.AddMinutes(49)), Assert.Single(file.Windows));
        Assert.Equal<string>(["standard", "reward_low_FN_rate"], corpus.Profiles.Select(p => p.Name));
        Assert.Equal(new NabProfile("reward_low_FN_rate", 1.0, 0.11, 2.0, 1.0), corpus.Profile("reward_low_FN_rate"));
        Assert.Equal(1.0, new NabScorer(corpus).ScoreAt([Detect(file, 40)], corpus.Profiles[0], 1.0).RawScore, Tolerance);
    }

    [Fact]
    public void A_label_timestamp_missing_from_the_data_file_is_named()
    {
        WriteCorpus(windowEnd: "2014-04-01 00:49:30.000000");

        var error = Assert.Throws<InvalidDataException>(() => NabCorpus.Load(_directory));

        Assert.Contains("combined_windows.json, 'catA/one_window.csv' window 1: end 2014-04-01 00:49:30", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_value_in_a_data_file_is_named_with_file_and_line()
    {
        WriteCorpus(windowEnd: "2014-04-01 00:49:00", badLine: 5);

        var error = Assert.Throws<InvalidDataException>(() => NabCorpus.Load(_directory));

        Assert.Contains("data/catA/one_window.csv line 5, field 'value': 'abc'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_result_file_round_trips_and_extra_columns_are_ignored_on_read()
    {
        var corpus = MainCorpus();
        var file = corpus[MainFile];
        double[] scores = [.. Enumerable.Range(0, Rows).Select(i => i / 7.0)];
        string detectorDirectory = Path.Combine(_directory, "results", "mine");

        var written = NabResultFile.WriteAll(detectorDirectory, "mine", corpus, [new NabDetections(MainFile, file.Timestamps, scores)]);
        var read = NabResultFile.ReadAll(detectorDirectory, "mine", corpus);

        Assert.Equal(Path.Combine(detectorDirectory, "catA", "mine_one_window.csv"), Assert.Single(written));
        var lines = System.IO.File.ReadAllLines(written[0]);
        Assert.Equal("timestamp,value,anomaly_score", lines[0]);
        Assert.Equal("2014-04-01 00:01:00,1,0.14285714285714285", lines[2]);
        var detections = Assert.Single(read);
        Assert.Equal(MainFile, detections.RelativePath);
        Assert.Equal(file.Timestamps, detections.Timestamps);
        Assert.Equal(scores, detections.Scores);

        string extra = Path.Combine(_directory, "extra.csv");
        System.IO.File.WriteAllLines(extra, ["timestamp,value,anomaly_score,label,S(t)_standard", "2014-04-01 00:00:00,3,0.25,0,-0.11"]);
        var withExtra = NabResultFile.Read(extra, MainFile);
        Assert.Equal(0.25, Assert.Single(withExtra.Scores));
        Assert.Equal(Start, Assert.Single(withExtra.Timestamps));
    }

    [Fact]
    public void A_bad_score_in_a_result_file_is_named_with_file_and_line()
    {
        string path = Path.Combine(_directory, "bad.csv");
        System.IO.File.WriteAllLines(path, ["timestamp,value,anomaly_score", "2014-04-01 00:00:00,3,0.25", "2014-04-01 00:01:00,3,high"]);

        var error = Assert.Throws<InvalidDataException>(() => NabResultFile.Read(path, MainFile));

        Assert.Contains("bad.csv line 3, field 'anomaly_score': 'high'", error.Message, StringComparison.Ordinal);
    }

    private void WriteCorpus(string windowEnd, int? badLine = null)
    {
        string data = Path.Combine(_directory, "data", "catA");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(Path.Combine(_directory, "labels"));
        Directory.CreateDirectory(Path.Combine(_directory, "config"));
        var lines = new List<string> { "timestamp,value" };
        for (int i = 0; i < Rows; i++)
        {
            // Line numbers count the header as line 1.
            string value = badLine == i + 2 ? "abc" : (i * 2.5).ToString(System.Globalization.CultureInfo.InvariantCulture);
            lines.Add($"{Start.AddMinutes(i):yyyy-MM-dd HH:mm:ss},{value}");
        }
        System.IO.File.WriteAllLines(Path.Combine(data, "one_window.csv"), lines);
        System.IO.File.WriteAllText(Path.Combine(_directory, "labels", "combined_windows.json"),
            $$"""{ "catA/one_window.csv": [["2014-04-01 00:40:00.000000", "{{windowEnd}}"]] }""");
        System.IO.File.WriteAllText(Path.Combine(_directory, "config", "profiles.json"), """
            {
              "standard": { "CostMatrix": { "tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0 } },
              "reward_low_FN_rate": { "CostMatrix": { "tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0 } }
            }
            """);
    }
}
