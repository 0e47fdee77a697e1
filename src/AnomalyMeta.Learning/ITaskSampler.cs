namespace AnomalyMeta.Learning;

/// <summary>
/// A source of regression tasks for meta-training. Buffers are row-major:
/// supportX [tasks, supportSize, InputSize], supportY [tasks, supportSize], queryX [tasks, querySize, InputSize], queryY [tasks, querySize].
/// </summary>
public interface ITaskSampler
{
    int InputSize { get; }

    /// <summary>Fills support and query sets of <paramref name="tasks"/> new tasks, drawing all randomness from <paramref name="random"/>.</summary>
    void Sample(Random random, int tasks, int supportSize, int querySize, Span<float> supportX, Span<float> supportY, Span<float> queryX, Span<float> queryY);
}
