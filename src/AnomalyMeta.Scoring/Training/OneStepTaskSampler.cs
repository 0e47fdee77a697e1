using System.Numerics.Tensors;
using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Learning;

namespace AnomalyMeta.Scoring.Training;

/// <summary>
/// Meta-training tasks cut from series histories, shaped exactly like the morning's scoring task
/// (<see cref="OneStepTask"/>): the support is the season of K points before a day, the query is the day that follows,
/// each point forecast from the values before it (which reach <see cref="OneStepTask.Lead"/> points further back).
/// </summary>
public sealed class OneStepTaskSampler : ITaskSampler
{
    // A jump can be hundreds of typical changes; clipped, such points still say "big move" without their squared
    // error drowning every other task's gradient.
    private const float TargetClip = 10f;

    private readonly List<TrainingHistory> _histories;
    private readonly int _primaryPeriod;
    private readonly int _seasonLength;
    private readonly int _queryLength;
    private readonly int _seasonalLag;
    private readonly int _weeklyLag;
    private readonly int _lead;

    // A task window of a history shorter than the full lead: the points before the history are fill, marked invalid.
    private float[] _padded = [];
    private int[] _paddedShift = [];

    /// <summary>
    /// Keeps the histories long enough for one task (its lags, season and query; the seasonal cycles need not all be
    /// there, as for a young series in the morning); throws when none is, naming what a task needs.
    /// </summary>
    public OneStepTaskSampler(IReadOnlyList<TrainingHistory> histories, int primaryPeriod, int seasonLength, int seasonalLag, int weeklyLag,
        int queryLength)
    {
        _lead = OneStepTask.Lead(seasonalLag, weeklyLag);
        int needed = OneStepTask.History + seasonLength + queryLength;
        var usable = new List<TrainingHistory>(histories.Count);
        foreach (var history in histories)
        {
            if (history.Values.Length >= needed)
            {
                usable.Add(history);
            }
        }
        if (usable.Count == 0)
        {
            // No parameter name: the message is shown as is by `train` and the training report.
            throw new ArgumentException($"no series has the {needed} points a task needs ({OneStepTask.History} for the lags, season {seasonLength}, {queryLength} forecast)");
        }
        _seasonalLag = seasonalLag;
        _weeklyLag = weeklyLag;
        _histories = usable;
        _primaryPeriod = primaryPeriod;
        _seasonLength = seasonLength;
        _queryLength = queryLength;
    }

    /// <summary>Support points per task: one season.</summary>
    public static int SupportSize(int seasonLength) => seasonLength;

    public int InputSize => OneStepTask.InputSize;

    public int SeriesCount => _histories.Count;

    public void Sample(Random random, int tasks, int supportSize, int querySize,
        Span<float> supportX, Span<float> supportY, Span<float> queryX, Span<float> queryY)
    {
        if (supportSize != SupportSize(_seasonLength) || querySize != _queryLength)
        {
            throw new ArgumentException($"Tasks of this sampler have {SupportSize(_seasonLength)} support and {_queryLength} query points, not {supportSize} and {querySize}.");
        }
        int inputs = OneStepTask.InputSize;
        int span = _lead + _seasonLength + _queryLength;
        for (int task = 0; task < tasks; task++)
        {
            var history = _histories[random.Next(_histories.Count)];
            // The support starts where a full lead fits when the history allows it; a young history's tasks start
            // anywhere, with the cycles it has, as its scoring will.
            int lastSupport = history.Values.Length - _seasonLength - _queryLength;
            int support = random.Next(lastSupport >= _lead ? _lead : OneStepTask.History, lastSupport + 1);
            int start = support - _lead;
            int firstValid = Math.Max(0, -start);
            var window = firstValid == 0 ? history.Values.AsSpan(start, span) : Padded(history.Values, firstValid, ref _padded, span);
            var scale = TaskScale.Of(window.Slice(_lead, _seasonLength));
            long absolute = history.FirstIndex + start;
            ReadOnlySpan<int> shift = history.LocalShift is null ? default
                : firstValid == 0 ? history.LocalShift.AsSpan(start, span) : Padded(history.LocalShift, firstValid, ref _paddedShift, span);
            OneStepTask.Encode(window, _lead, supportSize, absolute, _primaryPeriod, _seasonLength, _seasonalLag, _weeklyLag, scale,
                supportX.Slice(task * supportSize * inputs, supportSize * inputs), supportY.Slice(task * supportSize, supportSize), firstValid, shift);
            var targets = queryY.Slice(task * querySize, querySize);
            OneStepTask.Encode(window, _lead + _seasonLength, querySize, absolute, _primaryPeriod, _seasonLength, _seasonalLag, _weeklyLag, scale,
                queryX.Slice(task * querySize * inputs, querySize * inputs), targets, firstValid, shift);
            Clip(supportY.Slice(task * supportSize, supportSize));
            Clip(targets);
        }
    }

    /// <summary>The history's first points behind <paramref name="fill"/> copies of its first value.</summary>
    private static Span<T> Padded<T>(T[] values, int fill, ref T[] buffer, int span)
    {
        if (buffer.Length < span)
        {
            buffer = new T[span];
        }
        var window = buffer.AsSpan(0, span);
        window[..fill].Fill(values[0]);
        values.AsSpan(0, span - fill).CopyTo(window[fill..]);
        return window;
    }

    private static void Clip(Span<float> targets)
    {
        TensorPrimitives.Min(targets, TargetClip, targets);
        TensorPrimitives.Max(targets, -TargetClip, targets);
    }
}
