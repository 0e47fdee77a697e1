using System.Numerics.Tensors;
using AnomalyMeta.Core.Forecasting;
using AnomalyMeta.Learning;

namespace AnomalyMeta.Scoring.Training;

/// <summary>
/// Meta-training tasks cut from the histories of one cluster's series, shaped exactly like the scoring task:
/// support = one season of K points, query = the points that follow, inputs from <see cref="SeasonalTask"/>,
/// targets normalised by the support window.
/// </summary>
public sealed class SeriesTaskSampler : ITaskSampler
{
    // A trending series can put its query tens of support deviations away; clipped, such tasks still say "up"
    // without their squared error drowning every other task's gradient.
    private const float TargetClip = 10f;

    private readonly List<TrainingHistory> _histories;
    private readonly int _primaryPeriod;
    private readonly int _seasonLength;

    public SeriesTaskSampler(IReadOnlyList<TrainingHistory> histories, int primaryPeriod, int seasonLength, int minimumLength)
    {
        var usable = new List<TrainingHistory>(histories.Count);
        foreach (var history in histories)
        {
            if (history.Values.Length >= minimumLength)
            {
                usable.Add(history);
            }
        }
        if (usable.Count == 0)
        {
            throw new ArgumentException($"No series has the {minimumLength} points a task needs (season {seasonLength}).", nameof(histories));
        }
        _histories = usable;
        _primaryPeriod = primaryPeriod;
        _seasonLength = seasonLength;
    }

    public int InputSize => SeasonalTask.InputSize;

    public int PrimaryPeriod => _primaryPeriod;

    public int SeasonLength => _seasonLength;

    public int SeriesCount => _histories.Count;

    public void Sample(Random random, int tasks, int supportSize, int querySize,
        Span<float> supportX, Span<float> supportY, Span<float> queryX, Span<float> queryY)
    {
        int inputs = SeasonalTask.InputSize;
        for (int task = 0; task < tasks; task++)
        {
            // A constant window teaches nothing (and is skipped at scoring time): draw again.
            for (int attempt = 0; ; attempt++)
            {
                var history = _histories[random.Next(_histories.Count)];
                int queryStart = supportSize + random.Next(history.Values.Length - supportSize - querySize + 1);
                var support = history.Values.AsSpan(queryStart - supportSize, supportSize);
                if (!SeasonalTask.TryNormalisation(support, out float mean, out float scale) && attempt < 16)
                {
                    continue;
                }
                var query = history.Values.AsSpan(queryStart, querySize);
                long first = history.FirstIndex + queryStart - supportSize;
                SeasonalTask.EncodeInputs(first, supportSize, _primaryPeriod, _seasonLength,
                    supportX.Slice(task * supportSize * inputs, supportSize * inputs));
                SeasonalTask.EncodeInputs(first + supportSize, querySize, _primaryPeriod, _seasonLength,
                    queryX.Slice(task * querySize * inputs, querySize * inputs));
                SeasonalTask.Normalise(support, mean, scale, supportY.Slice(task * supportSize, supportSize));
                var targets = queryY.Slice(task * querySize, querySize);
                SeasonalTask.Normalise(query, mean, scale, targets);
                TensorPrimitives.Min(targets, TargetClip, targets);
                TensorPrimitives.Max(targets, -TargetClip, targets);
                break;
            }
        }
    }
}
