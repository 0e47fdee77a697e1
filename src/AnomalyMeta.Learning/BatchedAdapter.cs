using TorchSharp;
using static TorchSharp.torch;

namespace AnomalyMeta.Learning;

/// <summary>
/// Adaptation on TorchSharp: up to <see cref="BatchSize"/> series at a time, their fast weights held as batched tensors
/// ([batch, in, out], multiplied with <c>bmm</c>), hand-derived gradients under <c>no_grad</c>, one dispose scope per batch
/// and one per SGD step so memory stays flat however many series pass through. Same contract as <see cref="FastAdapter"/>.
/// Not thread-safe: the fast weights live in buffers owned by the adapter.
/// </summary>
public sealed class BatchedAdapter : IDisposable
{
    private readonly MetaParameters _parameters;
    private readonly Tensor[] _theta;        // [W0, b0, ...], W [in, out], b [out]
    private readonly Tensor[]? _stepSizes;   // Meta-SGD, W-shaped [1, in, out], b-shaped [1, 1, out]
    private Tensor[] _fast = [];             // [W0, b0, ...], W [capacity, in, out], b [capacity, 1, out], reset to θ per batch
    private long _fastCapacity;              // tasks the buffers in _fast hold

    public BatchedAdapter(MetaParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        _parameters = parameters;
        var layers = parameters.Weights.Count;
        _theta = new Tensor[2 * layers];
        _stepSizes = parameters.HasStepSizes ? new Tensor[2 * layers] : null;
        using var scope = NewDisposeScope();
        for (var l = 0; l < layers; l++)
        {
            long n = parameters.LayerSizes[l], m = parameters.LayerSizes[l + 1];
            _theta[2 * l] = tensor(parameters.Weights[l], [n, m]).DetachFromDisposeScope();
            _theta[(2 * l) + 1] = tensor(parameters.Biases[l], [m]).DetachFromDisposeScope();
            if (_stepSizes is not null)
            {
                _stepSizes[2 * l] = tensor(parameters.WeightStepSizes![l], [1, n, m]).DetachFromDisposeScope();
                _stepSizes[(2 * l) + 1] = tensor(parameters.BiasStepSizes![l], [1, 1, m]).DetachFromDisposeScope();
            }
        }
    }

    /// <summary>Series adapted together in one graph.</summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>Same contract as <see cref="FastAdapter.AdaptAndPredict"/>.</summary>
    public void AdaptAndPredict(int count, int supportSize, ReadOnlySpan<float> supportX, ReadOnlySpan<float> supportY, int querySize, ReadOnlySpan<float> queryX, int steps, Span<float> predictions)
    {
        var inputs = _parameters.InputSize;
        FastAdapter.ValidateBuffers(count, supportSize, supportX.Length, supportY.Length, querySize, queryX.Length, steps, predictions.Length, inputs);
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1);
        for (var start = 0; start < count; start += BatchSize)
        {
            var b = Math.Min(BatchSize, count - start);
            AdaptBatch(
                b,
                supportSize,
                supportX.Slice(start * supportSize * inputs, b * supportSize * inputs),
                supportY.Slice(start * supportSize, b * supportSize),
                querySize,
                queryX.Slice(start * querySize * inputs, b * querySize * inputs),
                steps,
                predictions.Slice(start * querySize, b * querySize));
        }
    }

    public void Dispose()
    {
        foreach (var t in _fast)
        {
            t.Dispose();
        }

        foreach (var t in _theta)
        {
            t.Dispose();
        }

        if (_stepSizes is not null)
        {
            foreach (var t in _stepSizes)
            {
                t.Dispose();
            }
        }
    }

    private void AdaptBatch(int b, int supportSize, ReadOnlySpan<float> supportX, ReadOnlySpan<float> supportY, int querySize, ReadOnlySpan<float> queryX, int steps, Span<float> predictions)
    {
        var inputs = _parameters.InputSize;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var fast = ResetFastWeights(b);
        if (steps > 0)
        {
            var xs = FunctionalMlp.Normalize(FunctionalMlp.FromSpan(supportX, b, supportSize, inputs), _parameters.InputNormalization);   // [b, K, in]
            var ys = FunctionalMlp.FromSpan(supportY, b, supportSize);                                                                    // [b, K]
            for (var step = 0; step < steps; step++)
            {
                // A step's activations and gradients (~10 MB at 512 tasks, K = 24, 40 wide) die with the step. Kept to the
                // end of the batch they made glibc grow and then trim its heap every batch, and refaulting those pages
                // was most of the time (~7,000 page faults per batch, ~8 us each on this VM); freed per step, the next
                // step reuses the same warm blocks.
                using var stepScope = NewDisposeScope();
                FunctionalMlp.SgdStepInPlace(xs, ys, fast, _stepSizes, _parameters.InnerLearningRate);
            }
        }

        if (querySize == 0)
        {
            return;
        }

        var xq = FunctionalMlp.Normalize(FunctionalMlp.FromSpan(queryX, b, querySize, inputs), _parameters.InputNormalization);   // [b, Q, in]
        FunctionalMlp.CopyTo(FunctionalMlp.Forward(xq, fast), predictions);   // [b, Q]
    }

    /// <summary>
    /// Views of the adapter's fast-weight buffers for <paramref name="tasks"/> tasks, each set to θ. The buffers are
    /// allocated once (grown when a larger batch comes) rather than per batch, so the weights are neither allocated
    /// nor freed per batch or per step; they are contiguous, which keeps <c>bmm</c> on its BLAS path.
    /// </summary>
    private Tensor[] ResetFastWeights(long tasks)
    {
        if (tasks > _fastCapacity)
        {
            foreach (var t in _fast)
            {
                t.Dispose();
            }

            _fast = new Tensor[_theta.Length];
            for (var l = 0; l < _theta.Length / 2; l++)
            {
                long n = _parameters.LayerSizes[l], m = _parameters.LayerSizes[l + 1];
                _fast[2 * l] = empty(tasks, n, m).DetachFromDisposeScope();
                _fast[(2 * l) + 1] = empty(tasks, 1, m).DetachFromDisposeScope();
            }

            _fastCapacity = tasks;
        }

        var fast = new Tensor[_fast.Length];
        for (var i = 0; i < _fast.Length; i++)
        {
            // copy_ broadcasts W [in, out] and b [out] over the tasks.
            fast[i] = _fast[i].narrow(0, 0, tasks).copy_(_theta[i]);
        }

        return fast;
    }
}
