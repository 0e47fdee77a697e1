using AnomalyMeta.Core.Series;
using AnomalyMeta.Core.Work;
using AnomalyMeta.Storage;
using AnomalyMeta.Storage.Records;

namespace AnomalyMeta.Scoring.Ingest;

/// <summary>Where a series' step came from in an ingest.</summary>
public enum StepSource
{
    /// <summary>Given by the caller (<c>--step-seconds</c>).</summary>
    Given,

    /// <summary>Inferred from the file's timestamps (<see cref="StepInference"/>).</summary>
    Inferred,

    /// <summary>The step the series was already registered with; a registered series keeps its step.</summary>
    Registered,
}

/// <summary>
/// The step a series was written on. <paramref name="InferredStepSeconds"/> is what the file's timestamps suggest
/// when no step was given (null when given, or when the series has a single timestamp); when it differs from a
/// registered step the readings were aggregated onto the registered one.
/// </summary>
public sealed record SeriesStep(string SeriesKey, int StepSeconds, StepSource Source, int? InferredStepSeconds)
{
    /// <summary>The file looks finer or coarser than the series' registered step and was put on the registered one.</summary>
    public bool OntoRegisteredStep => Source == StepSource.Registered && InferredStepSeconds is { } inferred && inferred != StepSeconds;
}

/// <summary>
/// What an ingest wrote: rows read, series, day rows written, each series' step, and the slots that combined more than
/// one value (off-grid or repeated timestamps, a finer feed). <paramref name="RowsRejected"/> is 0 for a CSV ingest:
/// a file is refused whole at its first bad line, never written with lines skipped.
/// </summary>
public sealed record IngestReport(int Rows, int Series, long DayRows, IReadOnlyList<SeriesStep> Steps, int AggregatedPoints, int RowsRejected = 0,
    TagMergeReport? Tags = null);

/// <summary>How <see cref="CsvIngest"/> puts a file on steps and writes it.</summary>
public sealed class CsvIngestOptions
{
    /// <summary>
    /// The step of every series of the file, in seconds (must divide a day); a registered series with another step
    /// is an error. Null: each new series' step is inferred from its timestamps (<see cref="StepInference"/>; from the
    /// whole file for a series with a single timestamp), and a registered series keeps its registered step.
    /// </summary>
    public int? StepSeconds { get; init; }

    /// <summary>
    /// The clock the file's series follow (IANA id, e.g. Europe/Paris): their daily and weekly phases are taken in this
    /// local time. Null: new series are on UTC and known series keep their zone. Timestamps in the file stay UTC.
    /// </summary>
    public string? TimeZone { get; init; }

    /// <summary>How the readings of one step slot are combined.</summary>
    public ObservationAggregate Aggregate { get; init; } = ObservationAggregate.Mean;

    /// <summary>
    /// Replace the stored days the file touches whole, instead of merging: by default a file changes exactly the points
    /// it carries and a blank never erases a stored value.
    /// </summary>
    public bool ReplaceDays { get; init; }

    /// <summary>
    /// Readings held in memory at once. A file with at most this many is checked and written from memory; a larger one
    /// is staged in PostgreSQL and written this many readings (whole series) at a time, in the same one transaction.
    /// </summary>
    public int ChunkReadings { get; init; } = 1_000_000;

    /// <summary>
    /// A tag file (<see cref="TagCsv"/>) merged into the series in the same transaction, after the observations: it may
    /// tag the file's new series, and a bad tag file leaves the observations unwritten too.
    /// </summary>
    public string? TagsPath { get; init; }
}

/// <summary>
/// Loads a CSV of observations in one transaction, so a bad file or a rejected write leaves nothing: every line is
/// checked first (<see cref="ObservationCsv"/>), then series are put on their steps, registered and their days merged
/// (or replaced). A file of up to <see cref="CsvIngestOptions.ChunkReadings"/> readings is done in memory; a larger one
/// is staged in PostgreSQL as it is checked and read back a group of whole series at a time, so memory is bounded by a
/// group whatever the file's size.
/// </summary>
public sealed class CsvIngest(SeriesRepository series)
{
    // How many series an error names before "and more".
    private const int MaxNamed = 5;

    // Staged readings fetched per round trip.
    private const int FetchSize = 100_000;

    // Readings between two progress reports while the source is read: often enough to watch, rarely enough to cost nothing.
    private const int ReportEvery = 50_000;

    public Task<IngestReport> IngestAsync(string path, int stepSeconds, CancellationToken cancellationToken) =>
        IngestAsync(path, new CsvIngestOptions { StepSeconds = stepSeconds }, cancellationToken);

    public Task<IngestReport> IngestAsync(string path, CsvIngestOptions options, CancellationToken cancellationToken) =>
        IngestAsync(path, options, null, cancellationToken);

    /// <summary>
    /// A file's ingest that reports the readings read (their total is not known before the end of the file), then the
    /// readings written of the file's total.
    /// </summary>
    public Task<IngestReport> IngestAsync(string path, CsvIngestOptions options, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        Check(options);
        // Stream(path) checks the file exists before anything is opened on the database.
        var lines = ObservationCsv.Stream(path);
        return IngestCoreAsync(lines.ToAsyncEnumerable(), Path.GetFileName(path), options, null, null, progress, cancellationToken);
    }

    /// <summary>
    /// Ingests checked readings from any source (a CSV file, a request body, JSON lines, the staging table) the way a
    /// file is ingested: one transaction, merged into the stored days, memory bounded by a chunk. The first bad
    /// reading's exception (thrown by the sequence) rolls everything back. <paramref name="name"/> is what messages
    /// and the series' <c>source</c> tag call the source.
    /// </summary>
    public Task<IngestReport> IngestAsync(IAsyncEnumerable<(string Key, ObservationReading Reading)> readings, string name,
        CsvIngestOptions options, CancellationToken cancellationToken) =>
        IngestAsync(readings, name, options, afterBegin: null, beforeCommit: null, cancellationToken);

    /// <summary>
    /// Like <see cref="IngestAsync(IAsyncEnumerable{ValueTuple{string, ObservationReading}}, string, CsvIngestOptions, CancellationToken)"/>,
    /// with <paramref name="afterBegin"/> run on the ingest's transaction before the first reading is asked for, and
    /// <paramref name="beforeCommit"/> once everything is written, before it commits (the staging table is locked in
    /// the first and its rows deleted in the second, so they are merged exactly once).
    /// </summary>
    internal Task<IngestReport> IngestAsync(IAsyncEnumerable<(string Key, ObservationReading Reading)> readings, string name,
        CsvIngestOptions options, Func<IngestTransaction, Task>? afterBegin, Func<IngestTransaction, Task>? beforeCommit, CancellationToken cancellationToken) =>
        IngestCoreAsync(readings, name, options, afterBegin, beforeCommit, null, cancellationToken);

    private async Task<IngestReport> IngestCoreAsync(IAsyncEnumerable<(string Key, ObservationReading Reading)> readings, string name,
        CsvIngestOptions options, Func<IngestTransaction, Task>? afterBegin, Func<IngestTransaction, Task>? beforeCommit, IProgress<WorkProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(readings);
        Check(options);
        // Read first: a bad tag file is refused before a large observation source is read at all.
        var tagFile = options.TagsPath is null ? null : TagCsv.Read(options.TagsPath);
        await using var ingest = await series.BeginIngestAsync(cancellationToken).ConfigureAwait(false);
        if (afterBegin is not null)
        {
            await afterBegin(ingest).ConfigureAwait(false);
        }
        var written = new Written(name, options, ingest);
        var first = new Dictionary<string, List<ObservationReading>>(StringComparer.Ordinal);
        int rows = 0;
        var enumerator = readings.GetAsyncEnumerator(cancellationToken);
        try
        {
            bool more = true;
            while (rows < options.ChunkReadings && (more = await enumerator.MoveNextAsync().ConfigureAwait(false)))
            {
                var (key, reading) = enumerator.Current;
                if (!first.TryGetValue(key, out var list))
                {
                    first[key] = list = [];
                }
                list.Add(reading);
                rows++;
                if (rows % ReportEvery == 0)
                {
                    progress?.Report(new WorkProgress("reading", rows, null, "readings"));
                }
            }

            if (!more || !await enumerator.MoveNextAsync().ConfigureAwait(false))
            {
                var file = ObservationCsv.Grouped(name, rows, first);
                await written.WriteAsync(file.Series, () => Task.FromResult(StepInference.Infer(file.Series.Values)), cancellationToken).ConfigureAwait(false);
                progress?.Report(new WorkProgress("writing", rows, rows, "readings"));
            }
            else
            {
                rows = await ingest.StageAsync(FirstThenRest(first, enumerator, rows, progress), cancellationToken).ConfigureAwait(false);
                first.Clear();
                int? fileStep = null;
                bool fileStepKnown = false;
                async Task<int?> FileStepAsync()
                {
                    if (!fileStepKnown)
                    {
                        fileStep = StepInference.Infer(await ingest.StagedSpacingsAsync(cancellationToken).ConfigureAwait(false));
                        fileStepKnown = true;
                    }
                    return fileStep;
                }
                var group = new Dictionary<string, ObservationReading[]>(StringComparer.Ordinal);
                long inGroup = 0, writtenReadings = 0;
                await foreach (var (key, seriesReadings) in ingest.ReadStagedAsync(FetchSize, cancellationToken).ConfigureAwait(false))
                {
                    group[key] = seriesReadings;
                    inGroup += seriesReadings.Length;
                    if (inGroup >= options.ChunkReadings)
                    {
                        await written.WriteAsync(group, FileStepAsync, cancellationToken).ConfigureAwait(false);
                        writtenReadings += inGroup;
                        progress?.Report(new WorkProgress("writing", writtenReadings, rows, "readings"));
                        group = new Dictionary<string, ObservationReading[]>(StringComparer.Ordinal);
                        inGroup = 0;
                    }
                }
                await written.WriteAsync(group, FileStepAsync, cancellationToken).ConfigureAwait(false);
                progress?.Report(new WorkProgress("writing", rows, rows, "readings"));
            }
        }
        finally
        {
            await enumerator.DisposeAsync().ConfigureAwait(false);
        }
        var tagged = tagFile is null ? null : await ingest.MergeTagsAsync(tagFile.Tags, tagFile.Name, cancellationToken).ConfigureAwait(false);
        if (beforeCommit is not null)
        {
            await beforeCommit(ingest).ConfigureAwait(false);
        }
        await ingest.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new IngestReport(rows, written.Steps.Count, written.DayRows, written.Steps, written.AggregatedPoints, Tags: tagged);
    }

    private static void Check(CsvIngestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.StepSeconds is { } given && (given <= 0 || 86400 % given != 0))
        {
            throw new ArgumentException($"A step of {given} s does not divide a day (86400 s).", nameof(options));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ChunkReadings, 1, nameof(options));
    }

    /// <summary>The readings of the first chunk (already read and checked), then the rest of the source.</summary>
    private static async IAsyncEnumerable<(string Key, ObservationReading Reading)> FirstThenRest(
        Dictionary<string, List<ObservationReading>> first, IAsyncEnumerator<(string Key, ObservationReading Reading)> rest, long firstCount,
        IProgress<WorkProgress>? progress)
    {
        foreach (var (key, readings) in first)
        {
            foreach (var reading in readings)
            {
                yield return (key, reading);
            }
        }
        // The enumerator already stands on the first reading past the chunk.
        long read = firstCount;
        do
        {
            yield return rest.Current;
            if (++read % ReportEvery == 0)
            {
                progress?.Report(new WorkProgress("reading", read, null, "readings"));
            }
        }
        while (await rest.MoveNextAsync().ConfigureAwait(false));
    }

    /// <summary>What an ingest has written so far, and how it writes a group of whole series.</summary>
    private sealed class Written(string name, CsvIngestOptions options, IngestTransaction ingest)
    {
        public List<SeriesStep> Steps { get; } = [];

        public long DayRows { get; private set; }

        public int AggregatedPoints { get; private set; }

        public async Task WriteAsync(IReadOnlyDictionary<string, ObservationReading[]> group, Func<Task<int?>> fileStep, CancellationToken cancellationToken)
        {
            if (group.Count == 0)
            {
                return;
            }
            var registered = await ingest.FindStepsAsync(group.Keys.ToArray(), cancellationToken).ConfigureAwait(false);
            var steps = await StepsOfAsync(name, group, registered, options.StepSeconds, fileStep).ConfigureAwait(false);
            var file = ObservationCsv.OnSteps(new ObservationReadings(name, 0, group),
                steps.ToDictionary(s => s.SeriesKey, s => s.StepSeconds, StringComparer.Ordinal), options.Aggregate);
            var registrations = new List<SeriesRegistration>(file.Series.Count);
            foreach (var (key, observed) in file.Series)
            {
                registrations.Add(new SeriesRegistration(key, observed.StepSeconds, new Dictionary<string, string> { ["source"] = name }, options.TimeZone));
            }
            var mode = options.ReplaceDays ? DayWriteMode.Replace : DayWriteMode.Merge;
            (_, long written) = await ingest.RegisterAndWriteAsync(registrations, ids => Rows(file, ids), mode, cancellationToken).ConfigureAwait(false);
            Steps.AddRange(steps);
            DayRows += written;
            AggregatedPoints += file.AggregatedPoints;
        }
    }

    /// <summary>Each series' step: given (and then equal to a registered one), else registered, else inferred.</summary>
    private static async Task<List<SeriesStep>> StepsOfAsync(
        string name, IReadOnlyDictionary<string, ObservationReading[]> readings, IReadOnlyDictionary<string, int> registered, int? given,
        Func<Task<int?>> fileStepOf)
    {
        var steps = new List<SeriesStep>(readings.Count);
        if (given is { } step)
        {
            var conflicts = readings.Keys.Where(k => registered.TryGetValue(k, out int stored) && stored != step).Order(StringComparer.Ordinal).ToList();
            if (conflicts.Count > 0)
            {
                throw ObservationErrors.Refused(new InvalidOperationException($"{name}: the step given ({step} s) differs from the registered step of "
                    + Named(conflicts, k => $"series '{k}' ({registered[k]} s)")
                    + "; a registered series keeps its step (its stored days have 86400/step points): leave the step out to aggregate onto it."));
            }
            steps.AddRange(readings.Keys.Select(k => new SeriesStep(k, step, StepSource.Given, null)));
            return steps;
        }

        int? fileStep = null;
        bool fileStepKnown = false;
        var unknown = new List<string>();
        foreach (var (key, seriesReadings) in readings)
        {
            int? inferred = StepInference.Infer(seriesReadings);
            if (registered.TryGetValue(key, out int stored))
            {
                steps.Add(new SeriesStep(key, stored, StepSource.Registered, inferred));
                continue;
            }
            if (inferred is null)
            {
                if (!fileStepKnown)
                {
                    // A lone timestamp has no spacing: the file's other series tell how the feed is sampled.
                    fileStep = await fileStepOf().ConfigureAwait(false);
                    fileStepKnown = true;
                }
                inferred = fileStep;
            }
            if (inferred is { } s)
            {
                steps.Add(new SeriesStep(key, s, StepSource.Inferred, s));
            }
            else
            {
                unknown.Add(key);
            }
        }
        if (unknown.Count > 0)
        {
            unknown.Sort(StringComparer.Ordinal);
            throw new InvalidDataException($"{name}: no step can be inferred for "
                + Named(unknown, k => $"series '{k}'")
                + ": a single timestamp per series and no other series with two; give the step (--step-seconds).");
        }
        return steps;
    }

    private static string Named(List<string> keys, Func<string, string> describe) =>
        string.Join(", ", keys.Take(MaxNamed).Select(describe)) + (keys.Count > MaxNamed ? $" and {keys.Count - MaxNamed} more" : "");

    private static IEnumerable<DayRow> Rows(ObservationFile file, IReadOnlyDictionary<string, int> ids)
    {
        foreach (var (key, observed) in file.Series)
        {
            foreach (var (day, points) in observed.Days)
            {
                yield return new DayRow(ids[key], day, points);
            }
        }
    }
}
