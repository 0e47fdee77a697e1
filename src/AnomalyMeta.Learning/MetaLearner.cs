using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalyMeta.Learning;

/// <summary>
/// Owns the meta-parameters of a functional MLP (TorchSharp tensors) and meta-trains them with MAML,
/// first-order MAML or Meta-SGD on tasks from an <see cref="ITaskSampler"/>. Not thread-safe.
/// </summary>
public sealed class MetaLearner : IDisposable
{
    private readonly MetaLearnerOptions _options;
    private readonly int[] _layerSizes;
    private readonly Parameter[] _parameters;   // [W0, b0, W1, b1, ...], W [in, out], b [out]
    private readonly Parameter[]? _stepSizes;   // Meta-SGD: shaped like _parameters
    private readonly Random _random;
    // Kept across Train calls: a learner trained in chunks (the global learner of bench clusters takes turns over
    // task shapes) must keep Adam's moments, or every chunk restarts from a cold optimiser.
    private MetaAdam? _optimizer;
    private bool _disposed;

    private MetaLearner(MetaLearnerOptions options)
    {
        _options = options;
        _layerSizes = options.LayerSizes();
        _random = new Random(options.Seed);

        // Initialise in C# from the seed, not from libtorch's global generator, so runs are reproducible
        // whatever else in the process draws from torch. PyTorch's nn.Linear default: U(-1/sqrt(in), 1/sqrt(in)).
        var init = new Random(options.Seed ^ 0x5eed);
        var layers = _layerSizes.Length - 1;
        _parameters = new Parameter[2 * layers];
        for (var l = 0; l < layers; l++)
        {
            int fanIn = _layerSizes[l], fanOut = _layerSizes[l + 1];
            var bound = 1f / MathF.Sqrt(fanIn);
            _parameters[2 * l] = NewParameter(UniformArray(init, fanIn * fanOut, bound), [fanIn, fanOut]);
            _parameters[(2 * l) + 1] = NewParameter(UniformArray(init, fanOut, bound), [fanOut]);
        }

        if (options.Algorithm == MetaAlgorithm.MetaSgd)
        {
            _stepSizes = new Parameter[_parameters.Length];
            for (var i = 0; i < _parameters.Length; i++)
            {
                var values = new float[_parameters[i].numel()];
                Array.Fill(values, options.InnerLearningRate);
                _stepSizes[i] = NewParameter(values, _parameters[i].shape);
            }
        }
    }

    public MetaLearnerOptions Options => _options;

    /// <summary>
    /// Sets libtorch's intra-op thread count for the process. Meta-training tiny MLPs is dominated by per-op overhead:
    /// one thread ran 551 meta-iterations/s where two ran 29 on this 2-core machine under load (the threads fight).
    /// </summary>
    public static void UseTorchThreads(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        torch.set_num_threads(threads);
    }

    /// <summary>Creates a learner with freshly initialised meta-parameters.</summary>
    public static MetaLearner Create(MetaLearnerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new MetaLearner(options);
    }

    /// <summary>
    /// Meta-trains for <paramref name="iterations"/> meta-updates, each on <see cref="MetaLearnerOptions.MetaBatchSize"/> new tasks
    /// with <paramref name="supportSize"/> support and <paramref name="querySize"/> query points. Cancellation stops after the current update.
    /// A further call continues with the same Adam state, so training in chunks equals training in one go (a cosine
    /// schedule restarts at each call).
    /// </summary>
    public MetaTrainingReport Train(ITaskSampler sampler, int iterations, int supportSize, int querySize, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(sampler);
        if (sampler.InputSize != _options.InputSize)
        {
            throw new ArgumentException($"The task sampler yields {sampler.InputSize} inputs per point; the model takes {_options.InputSize}.", nameof(sampler));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(iterations);
        ArgumentOutOfRangeException.ThrowIfLessThan(supportSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(querySize, 1);

        int tasks = _options.MetaBatchSize, inputs = _options.InputSize;
        var supportX = new float[tasks * supportSize * inputs];
        var supportY = new float[tasks * supportSize];
        var queryX = new float[tasks * querySize * inputs];
        var queryY = new float[tasks * querySize];

        var trainable = AllTrainable();
        var optimizer = _optimizer ??= new MetaAdam(trainable);
        var cosine = _options.Schedule == LearningRateSchedule.Cosine;

        var blocks = Math.Max(1, Math.Min(100, iterations));
        var blockLength = Math.Max(1, iterations / blocks);
        var curve = new List<double>(blocks + 1);
        var tailStart = iterations - Math.Max(1, iterations / 10);
        double blockSum = 0, tailSum = 0;
        int blockCount = 0, tailCount = 0, done = 0, skipped = 0;

        var stopwatch = Stopwatch.StartNew();
        for (var iteration = 0; iteration < iterations && !cancellationToken.IsCancellationRequested; iteration++)
        {
            sampler.Sample(_random, tasks, supportSize, querySize, supportX, supportY, queryX, queryY);
            double loss;
            using (NewDisposeScope())
            {
                var innerSteps = _options.SampleInnerSteps && _options.InnerSteps > 1 ? _random.Next(1, _options.InnerSteps + 1) : _options.InnerSteps;
                var outer = MetaLoss(supportX, supportY, queryX, queryY, tasks, supportSize, querySize, innerSteps);
                optimizer.ZeroGrad();
                loss = outer.item<float>();
                // An inner loop that blew up (e.g. Meta-SGD step sizes too large for this many steps) would turn
                // Adam's moments into NaN for good: such a meta-batch is skipped, and counted in the report.
                var finite = double.IsFinite(loss);
                if (finite)
                {
                    outer.backward();
                    if (_options.GradientClipNorm > 0f)
                    {
                        finite = double.IsFinite(nn.utils.clip_grad_norm_(trainable, _options.GradientClipNorm));
                    }

                    if (finite)
                    {
                        // Cosine annealing to 0 over this call (Loshchilov and Hutter 2017), restarting at each call.
                        optimizer.Step(cosine ? _options.OuterLearningRate * (1 + Math.Cos(Math.PI * iteration / iterations)) / 2 : _options.OuterLearningRate);
                    }
                }

                if (!finite)
                {
                    skipped++;
                    done++;
                    continue;
                }
            }

            done++;
            blockSum += loss;
            blockCount++;
            if (blockCount == blockLength)
            {
                curve.Add(blockSum / blockCount);
                blockSum = 0;
                blockCount = 0;
            }

            if (iteration >= tailStart)
            {
                tailSum += loss;
                tailCount++;
            }
        }

        stopwatch.Stop();
        if (blockCount > 0)
        {
            curve.Add(blockSum / blockCount);
        }

        var final = tailCount > 0 ? tailSum / tailCount : (curve.Count > 0 ? curve[^1] : double.NaN);
        return new MetaTrainingReport(done, stopwatch.Elapsed.TotalSeconds, final, curve) { SkippedIterations = skipped };
    }

    /// <summary>Plain float copies of the meta-parameters (and Meta-SGD step sizes) for <see cref="FastAdapter"/>.</summary>
    public MetaParameters ExportParameters()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var layers = _layerSizes.Length - 1;
        var weights = new float[layers][];
        var biases = new float[layers][];
        float[][]? weightSteps = _stepSizes is null ? null : new float[layers][];
        float[][]? biasSteps = _stepSizes is null ? null : new float[layers][];
        for (var l = 0; l < layers; l++)
        {
            weights[l] = ToArray(_parameters[2 * l]);
            biases[l] = ToArray(_parameters[(2 * l) + 1]);
            if (_stepSizes is not null)
            {
                weightSteps![l] = ToArray(_stepSizes[2 * l]);
                biasSteps![l] = ToArray(_stepSizes[(2 * l) + 1]);
            }
        }

        return MetaParameters.For(_options, weights, biases, weightSteps, biasSteps);
    }

    /// <summary>Writes a checkpoint: format version, options (with input normalisation) and parameters.</summary>
    public void Save(Stream stream)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(stream);
        Checkpoint.Write(stream, _options, ExportParameters());
    }

    /// <summary>Reads a checkpoint written by <see cref="Save"/>; throws <see cref="InvalidDataException"/> on another format version or a corrupt file.</summary>
    public static MetaLearner Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var (options, parameters) = Checkpoint.Read(stream);
        var learner = Create(options);
        learner.ImportParameters(parameters);
        return learner;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _optimizer?.Dispose();
        foreach (var p in AllTrainable())
        {
            p.Dispose();
        }
    }

    /// <summary>
    /// Mean post-adaptation query loss of one meta-batch, as a graph down to the meta-parameters.
    /// The inner loop differentiates the support loss with autograd.grad; second-order unless first-order MAML.
    /// </summary>
    internal Tensor MetaLoss(float[] supportX, float[] supportY, float[] queryX, float[] queryY, int tasks, int supportSize, int querySize, int? innerSteps = null)
    {
        var inputs = _options.InputSize;
        var normalization = _options.EffectiveNormalization;
        var xs = FunctionalMlp.Normalize(FunctionalMlp.FromSpan(supportX.AsSpan(0, tasks * supportSize * inputs), tasks, supportSize, inputs), normalization);   // [T, K, in]
        var ys = FunctionalMlp.FromSpan(supportY.AsSpan(0, tasks * supportSize), tasks, supportSize);                                                            // [T, K]
        var xq = FunctionalMlp.Normalize(FunctionalMlp.FromSpan(queryX.AsSpan(0, tasks * querySize * inputs), tasks, querySize, inputs), normalization);       // [T, Q, in]
        var yq = FunctionalMlp.FromSpan(queryY.AsSpan(0, tasks * querySize), tasks, querySize);                                                                // [T, Q]

        var fast = Adapt(xs, ys, tasks, innerSteps ?? _options.InnerSteps, createGraph: _options.Algorithm != MetaAlgorithm.FirstOrderMaml);
        var predictions = FunctionalMlp.Forward(xq, fast);   // [T, Q]
        return (predictions - yq).pow(HeldScalars.Two).mean();
    }

    /// <summary>
    /// Adapts and predicts with the training path (autograd inner loop), for agreement tests against the adapters.
    /// Buffers as in <see cref="FastAdapter.AdaptAndPredict"/>.
    /// </summary>
    internal float[] AdaptAndPredictWithAutograd(int count, int supportSize, float[] supportX, float[] supportY, int querySize, float[] queryX, int steps)
    {
        using var scope = NewDisposeScope();
        var inputs = _options.InputSize;
        var normalization = _options.EffectiveNormalization;
        var xs = FunctionalMlp.Normalize(FunctionalMlp.FromSpan(supportX, count, supportSize, inputs), normalization);
        var ys = FunctionalMlp.FromSpan(supportY, count, supportSize);
        var xq = FunctionalMlp.Normalize(FunctionalMlp.FromSpan(queryX, count, querySize, inputs), normalization);
        var fast = Adapt(xs, ys, count, steps, createGraph: false);
        var predictions = new float[count * querySize];
        using (no_grad())
        {
            FunctionalMlp.CopyTo(FunctionalMlp.Forward(xq, fast), predictions);
        }

        return predictions;
    }

    /// <summary>Current values of the meta-parameters and, for Meta-SGD, the step sizes, in that order.</summary>
    internal IReadOnlyList<Parameter> AllTrainable()
    {
        if (_stepSizes is null)
        {
            return _parameters;
        }

        var all = new Parameter[_parameters.Length + _stepSizes.Length];
        _parameters.CopyTo(all, 0);
        _stepSizes.CopyTo(all, _parameters.Length);
        return all;
    }

    private Tensor[] Adapt(Tensor xs, Tensor ys, long tasks, int steps, bool createGraph)
    {
        var fast = FunctionalMlp.Broadcast(_parameters, tasks);
        using var innerRate = _options.InnerLearningRate.ToScalar();
        for (var step = 0; step < steps; step++)
        {
            var predictions = FunctionalMlp.Forward(xs, fast);   // [T, K]
            // Sum over tasks of each task's mean: task t's gradient then lands in slice t of the broadcast parameters.
            var innerLoss = (predictions - ys).pow(HeldScalars.Two).mean([1]).sum();
            // Keep the inner step's graph: the outer loss must differentiate through the adaptation
            // (second-order MAML, Finn et al. 2017). First-order MAML treats the gradients as constants.
            var gradients = autograd.grad([innerLoss], fast, create_graph: createGraph, retain_graph: true);
            var adapted = new Tensor[fast.Length];
            for (var i = 0; i < fast.Length; i++)
            {
                var g = createGraph ? gradients[i] : gradients[i].detach();
                adapted[i] = _stepSizes is null
                    ? fast[i] - g.mul(innerRate)
                    : fast[i] - (BroadcastStepSize(_stepSizes[i]) * g);
            }

            fast = adapted;
        }

        return fast;
    }

    private static Tensor BroadcastStepSize(Parameter stepSize) =>
        stepSize.dim() == 2 ? stepSize.unsqueeze(0) : stepSize.view(1, 1, stepSize.shape[0]);

    private void ImportParameters(MetaParameters parameters)
    {
        parameters.Validate();
        using var noGrad = no_grad();
        var layers = _layerSizes.Length - 1;
        for (var l = 0; l < layers; l++)
        {
            CopyInto(_parameters[2 * l], parameters.Weights[l]);
            CopyInto(_parameters[(2 * l) + 1], parameters.Biases[l]);
            if (_stepSizes is not null)
            {
                if (!parameters.HasStepSizes)
                {
                    throw new InvalidDataException("The checkpoint is for Meta-SGD but holds no step sizes.");
                }

                CopyInto(_stepSizes[2 * l], parameters.WeightStepSizes![l]);
                CopyInto(_stepSizes[(2 * l) + 1], parameters.BiasStepSizes![l]);
            }
        }
    }

    private static void CopyInto(Parameter target, float[] values)
    {
        using var scope = NewDisposeScope();
        target.copy_(tensor(values, target.shape));
    }

    private static float[] ToArray(Tensor t)
    {
        var values = new float[t.numel()];
        using var scope = NewDisposeScope();
        FunctionalMlp.CopyTo(t.detach(), values);
        return values;
    }

    private static Parameter NewParameter(float[] values, long[] shape)
    {
        // Detached from any dispose scope of the caller: the learner owns these until Dispose.
        using var scope = NewDisposeScope();
        var data = tensor(values, shape);
        var parameter = new Parameter(data, requires_grad: true);
        parameter.DetachFromDisposeScope();
        return parameter;
    }

    private static float[] UniformArray(Random random, int length, float bound)
    {
        var values = new float[length];
        for (var i = 0; i < length; i++)
        {
            values[i] = ((2f * random.NextSingle()) - 1f) * bound;
        }

        return values;
    }
}
