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
public sealed record IngestReport(int Rows, int Series, long DayRows, IReadOnlyList<SeriesStep> Steps, int AggregatedPoints, int RowsRejected = 0);

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
}

/// <summary>
/// Loads a CSV of observations: the file is read and checked whole first (<see cref="ObservationCsv"/>), put on each
/// series' step, then the series are registered and their days merged (or replaced) in one transaction, so a bad file
/// or a rejected write leaves nothing.
/// </summary>
public sealed class CsvIngest(SeriesRepository series)
{
    // How many series an error names before "and more".
    private const int MaxNamed = 5;

    public Task<IngestReport> IngestAsync(string path, int stepSeconds, CancellationToken cancellationToken) =>
        IngestAsync(path, new CsvIngestOptions { StepSeconds = stepSeconds }, cancellationToken);

    public async Task<IngestReport> IngestAsync(string path, CsvIngestOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.StepSeconds is { } given && (given <= 0 || 86400 % given != 0))
        {
            throw new ArgumentException($"A step of {given} s does not divide a day (86400 s).", nameof(options));
        }
        var readings = ObservationCsv.ReadReadings(path);
        string name = Path.GetFileName(path);
        var registered = await series.FindStepsAsync(readings.Series.Keys.ToArray(), cancellationToken).ConfigureAwait(false);
        var steps = StepsOf(name, readings, registered, options.StepSeconds);
        var file = ObservationCsv.OnSteps(readings, steps.ToDictionary(s => s.SeriesKey, s => s.StepSeconds, StringComparer.Ordinal), options.Aggregate);

        var registrations = new List<SeriesRegistration>(file.Series.Count);
        foreach (var (key, observed) in file.Series)
        {
            registrations.Add(new SeriesRegistration(key, observed.StepSeconds, new Dictionary<string, string> { ["source"] = name }, options.TimeZone));
        }
        var mode = options.ReplaceDays ? DayWriteMode.Replace : DayWriteMode.Merge;
        (_, long written) = await series.RegisterAndWriteAsync(registrations, ids => Rows(file, ids), mode, cancellationToken).ConfigureAwait(false);
        return new IngestReport(file.Rows, file.Series.Count, written, steps, file.AggregatedPoints);
    }

    /// <summary>Each series' step: given (and then equal to a registered one), else registered, else inferred.</summary>
    private static List<SeriesStep> StepsOf(
        string name, ObservationReadings readings, IReadOnlyDictionary<string, int> registered, int? given)
    {
        var steps = new List<SeriesStep>(readings.Series.Count);
        if (given is { } step)
        {
            var conflicts = readings.Series.Keys.Where(k => registered.TryGetValue(k, out int stored) && stored != step).Order(StringComparer.Ordinal).ToList();
            if (conflicts.Count > 0)
            {
                throw new InvalidOperationException($"{name}: the step given ({step} s) differs from the registered step of "
                    + Named(conflicts, k => $"series '{k}' ({registered[k]} s)")
                    + "; a registered series keeps its step (its stored days have 86400/step points): leave the step out to aggregate onto it.");
            }
            steps.AddRange(readings.Series.Keys.Select(k => new SeriesStep(k, step, StepSource.Given, null)));
            return steps;
        }

        int? fileStep = null;
        bool fileStepKnown = false;
        var unknown = new List<string>();
        foreach (var (key, seriesReadings) in readings.Series)
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
                    fileStep = StepInference.Infer(readings.Series.Values);
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
