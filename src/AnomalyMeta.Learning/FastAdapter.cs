using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AnomalyMeta.Learning;

/// <summary>
/// Scoring-time adaptation without TorchSharp: each series is adapted on its own, with its fast weights
/// in a per-thread workspace small enough for L1, hand-derived MLP gradients vectorised with <see cref="Vector256{T}"/>,
/// and series spread over threads in chunks. Same contract and results (to float rounding) as <see cref="BatchedAdapter"/>.
/// Thread-safe: the meta-parameters are read-only and every call uses its own workspaces.
/// </summary>
public sealed class FastAdapter
{
    // Series per unit of parallel work: large enough to amortise scheduling, small enough to balance two cores.
    private const int ChunkSize = 64;

    private readonly int[] _sizes;
    private readonly int[] _weightOffsets;
    private readonly int[] _biasOffsets;
    private readonly int[] _activationOffsets;
    private readonly int _parameterCount;
    private readonly int _activationCount;
    private readonly int _maxWidth;
    private readonly float[] _theta;        // meta-parameters, flat: per layer W [in, out] then b [out]
    private readonly float[]? _stepSizes;   // Meta-SGD step sizes, same layout; null: scalar _learningRate
    private readonly float _learningRate;
    private readonly float[] _inputMean;
    private readonly float[] _inputInverseScale;

    public FastAdapter(MetaParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        _sizes = [.. parameters.LayerSizes];
        var layers = _sizes.Length - 1;
        _weightOffsets = new int[layers];
        _biasOffsets = new int[layers];
        _activationOffsets = new int[layers + 1];
        var offset = 0;
        for (var l = 0; l < layers; l++)
        {
            _weightOffsets[l] = offset;
            offset += _sizes[l] * _sizes[l + 1];
            _biasOffsets[l] = offset;
            offset += _sizes[l + 1];
            _activationOffsets[l + 1] = _activationOffsets[l] + _sizes[l];
            _maxWidth = Math.Max(_maxWidth, Math.Max(_sizes[l], _sizes[l + 1]));
        }

        _parameterCount = offset;
        _activationCount = _activationOffsets[layers] + 1;
        _theta = new float[_parameterCount];
        for (var l = 0; l < layers; l++)
        {
            parameters.Weights[l].CopyTo(_theta, _weightOffsets[l]);
            parameters.Biases[l].CopyTo(_theta, _biasOffsets[l]);
        }

        if (parameters.HasStepSizes)
        {
            _stepSizes = new float[_parameterCount];
            for (var l = 0; l < layers; l++)
            {
                parameters.WeightStepSizes![l].CopyTo(_stepSizes, _weightOffsets[l]);
                parameters.BiasStepSizes![l].CopyTo(_stepSizes, _biasOffsets[l]);
            }
        }

        _learningRate = parameters.InnerLearningRate;
        var inputs = _sizes[0];
        _inputMean = new float[inputs];
        _inputInverseScale = new float[inputs];
        for (var i = 0; i < inputs; i++)
        {
            _inputMean[i] = parameters.InputNormalization.Mean[i];
            _inputInverseScale[i] = 1f / parameters.InputNormalization.Scale[i];
        }
    }

    /// <summary>Threads used by <see cref="AdaptAndPredict"/>; defaults to all cores.</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// For each of <paramref name="count"/> series: <paramref name="steps"/> full-batch SGD steps on the mean squared error of its support set
    /// (scalar or per-parameter step sizes from the parameters), then predictions at its query points.
    /// supportX [count, supportSize, in], supportY [count, supportSize], queryX [count, querySize, in], predictions [count, querySize].
    /// </summary>
    public unsafe void AdaptAndPredict(int count, int supportSize, ReadOnlySpan<float> supportX, ReadOnlySpan<float> supportY, int querySize, ReadOnlySpan<float> queryX, int steps, Span<float> predictions)
    {
        var inputs = _sizes[0];
        ValidateBuffers(count, supportSize, supportX.Length, supportY.Length, querySize, queryX.Length, steps, predictions.Length, inputs);
        if (count == 0)
        {
            return;
        }

        fixed (float* sx = supportX, sy = supportY, qx = queryX, p = predictions)
        {
            // Spans cannot cross into the worker lambdas; the pinned addresses can, as integers.
            var batch = new Batch((nint)sx, (nint)sy, (nint)qx, (nint)p, supportSize, querySize, steps);
            var chunks = (count + ChunkSize - 1) / ChunkSize;
            if (chunks == 1 || MaxDegreeOfParallelism == 1)
            {
                var workspace = new Workspace(this);
                for (var chunk = 0; chunk < chunks; chunk++)
                {
                    RunChunk(batch, chunk, count, workspace);
                }

                return;
            }

            Parallel.For(
                0,
                chunks,
                new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism },
                () => new Workspace(this),
                (chunk, _, workspace) =>
                {
                    RunChunk(batch, chunk, count, workspace);
                    return workspace;
                },
                static _ => { });
        }
    }

    internal static void ValidateBuffers(int count, int supportSize, int supportXLength, int supportYLength, int querySize, int queryXLength, int steps, int predictionsLength, int inputs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        ArgumentOutOfRangeException.ThrowIfNegative(querySize);
        if (steps > 0)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(supportSize, 1);
        }

        if (supportXLength < (long)count * supportSize * inputs || supportYLength < (long)count * supportSize)
        {
            throw new ArgumentException($"Support buffers hold {supportXLength} inputs and {supportYLength} targets; {count} series of {supportSize} points with {inputs} inputs need {(long)count * supportSize * inputs} and {(long)count * supportSize}.");
        }

        if (queryXLength < (long)count * querySize * inputs || predictionsLength < (long)count * querySize)
        {
            throw new ArgumentException($"Query buffers hold {queryXLength} inputs and {predictionsLength} predictions; {count} series of {querySize} points with {inputs} inputs need {(long)count * querySize * inputs} and {(long)count * querySize}.");
        }
    }

    private unsafe void RunChunk(Batch batch, int chunk, int count, Workspace workspace)
    {
        var inputs = _sizes[0];
        var end = Math.Min(count, (chunk + 1) * ChunkSize);
        for (var series = chunk * ChunkSize; series < end; series++)
        {
            var sx = new ReadOnlySpan<float>((float*)batch.SupportX + ((long)series * batch.SupportSize * inputs), batch.SupportSize * inputs);
            var sy = new ReadOnlySpan<float>((float*)batch.SupportY + ((long)series * batch.SupportSize), batch.SupportSize);
            var qx = new ReadOnlySpan<float>((float*)batch.QueryX + ((long)series * batch.QuerySize * inputs), batch.QuerySize * inputs);
            var predictions = new Span<float>((float*)batch.Predictions + ((long)series * batch.QuerySize), batch.QuerySize);
            AdaptOne(workspace, sx, sy, qx, batch.Steps, predictions);
        }
    }

    private void AdaptOne(Workspace workspace, ReadOnlySpan<float> supportX, ReadOnlySpan<float> supportY, ReadOnlySpan<float> queryX, int steps, Span<float> predictions)
    {
        var inputs = _sizes[0];
        var theta = workspace.Theta;
        var gradient = workspace.Gradient;
        _theta.CopyTo(theta, 0);
        var supportSize = supportY.Length;
        var lossScale = 2f / supportSize;   // d(mean_k (p - y)^2)/dp = 2 (p - y) / K
        for (var step = 0; step < steps; step++)
        {
            Array.Clear(gradient);
            for (var k = 0; k < supportSize; k++)
            {
                var output = Forward(workspace, supportX.Slice(k * inputs, inputs));
                Backward(workspace, (output - supportY[k]) * lossScale);
            }

            if (_stepSizes is null)
            {
                Axpy(-_learningRate, ref MemoryMarshal.GetArrayDataReference(gradient), ref MemoryMarshal.GetArrayDataReference(theta), _parameterCount);
            }
            else
            {
                SubtractProduct(ref MemoryMarshal.GetArrayDataReference(_stepSizes), ref MemoryMarshal.GetArrayDataReference(gradient), ref MemoryMarshal.GetArrayDataReference(theta), _parameterCount);
            }
        }

        for (var q = 0; q < predictions.Length; q++)
        {
            predictions[q] = Forward(workspace, queryX.Slice(q * inputs, inputs));
        }
    }

    /// <summary>Forward pass of one point with the workspace's fast weights; keeps every layer's input for the backward pass.</summary>
    private float Forward(Workspace workspace, ReadOnlySpan<float> x)
    {
        ref var theta = ref MemoryMarshal.GetArrayDataReference(workspace.Theta);
        ref var activations = ref MemoryMarshal.GetArrayDataReference(workspace.Activations);
        for (var i = 0; i < x.Length; i++)
        {
            Unsafe.Add(ref activations, i) = (x[i] - _inputMean[i]) * _inputInverseScale[i];
        }

        var layers = _sizes.Length - 1;
        for (var l = 0; l < layers; l++)
        {
            int n = _sizes[l], m = _sizes[l + 1];
            ref var input = ref Unsafe.Add(ref activations, _activationOffsets[l]);
            ref var output = ref Unsafe.Add(ref activations, _activationOffsets[l + 1]);
            ref var weights = ref Unsafe.Add(ref theta, _weightOffsets[l]);
            ref var bias = ref Unsafe.Add(ref theta, _biasOffsets[l]);
            if (m == 1)
            {
                // A single output unit: the weight column is contiguous, so vectorise over the inputs instead.
                output = bias + Dot(ref input, ref weights, n);
            }
            else
            {
                Copy(ref bias, ref output, m);
                for (var i = 0; i < n; i++)
                {
                    var a = Unsafe.Add(ref input, i);
                    if (a != 0f)
                    {
                        Axpy(a, ref Unsafe.Add(ref weights, i * m), ref output, m);
                    }
                }
            }

            if (l < layers - 1)
            {
                Relu(ref output, m);
            }
        }

        return Unsafe.Add(ref activations, _activationOffsets[layers]);
    }

    /// <summary>Accumulates the gradient of one point, given d(loss)/d(output), using the activations of the last Forward.</summary>
    private void Backward(Workspace workspace, float outputGradient)
    {
        ref var theta = ref MemoryMarshal.GetArrayDataReference(workspace.Theta);
        ref var gradient = ref MemoryMarshal.GetArrayDataReference(workspace.Gradient);
        ref var activations = ref MemoryMarshal.GetArrayDataReference(workspace.Activations);
        var current = workspace.DeltaA;
        var next = workspace.DeltaB;
        current[0] = outputGradient;
        for (var l = _sizes.Length - 2; l >= 0; l--)
        {
            int n = _sizes[l], m = _sizes[l + 1];
            ref var input = ref Unsafe.Add(ref activations, _activationOffsets[l]);
            ref var weights = ref Unsafe.Add(ref theta, _weightOffsets[l]);
            ref var weightGradient = ref Unsafe.Add(ref gradient, _weightOffsets[l]);
            ref var delta = ref MemoryMarshal.GetArrayDataReference(current);
            ref var previous = ref MemoryMarshal.GetArrayDataReference(next);
            Axpy(1f, ref delta, ref Unsafe.Add(ref gradient, _biasOffsets[l]), m);
            if (m == 1)
            {
                var d = delta;
                Axpy(d, ref input, ref weightGradient, n);
                if (l > 0)
                {
                    for (var i = 0; i < n; i++)
                    {
                        // The layer input is a ReLU output: gradient flows only where it was positive.
                        Unsafe.Add(ref previous, i) = Unsafe.Add(ref input, i) > 0f ? Unsafe.Add(ref weights, i) * d : 0f;
                    }
                }
            }
            else
            {
                for (var i = 0; i < n; i++)
                {
                    var a = Unsafe.Add(ref input, i);
                    if (a != 0f)
                    {
                        Axpy(a, ref delta, ref Unsafe.Add(ref weightGradient, i * m), m);
                    }

                    if (l > 0)
                    {
                        Unsafe.Add(ref previous, i) = a > 0f ? Dot(ref Unsafe.Add(ref weights, i * m), ref delta, m) : 0f;
                    }
                }
            }

            (current, next) = (next, current);
        }
    }

    // y += a * x over n floats.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float a, ref float x, ref float y, int n)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var vy = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i));
                vy.StoreUnsafe(ref y, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref y, i) = MathF.FusedMultiplyAdd(a, Unsafe.Add(ref x, i), Unsafe.Add(ref y, i));
        }
    }

    // y -= s * g elementwise over n floats (Meta-SGD update).
    private static void SubtractProduct(ref float s, ref float g, ref float y, int n)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var vy = Vector256.FusedMultiplyAdd(-Vector256.LoadUnsafe(ref s, (nuint)i), Vector256.LoadUnsafe(ref g, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i));
                vy.StoreUnsafe(ref y, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref y, i) = MathF.FusedMultiplyAdd(-Unsafe.Add(ref s, i), Unsafe.Add(ref g, i), Unsafe.Add(ref y, i));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ref float x, ref float y, int n)
    {
        var i = 0;
        var sum = 0f;
        if (Vector256.IsHardwareAccelerated && n >= Vector256<float>.Count)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i), acc);
            }

            sum = Vector256.Sum(acc);
        }

        for (; i < n; i++)
        {
            sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref x, i), Unsafe.Add(ref y, i), sum);
        }

        return sum;
    }

    private static void Copy(ref float source, ref float destination, int n) =>
        MemoryMarshal.CreateReadOnlySpan(ref source, n).CopyTo(MemoryMarshal.CreateSpan(ref destination, n));

    private static void Relu(ref float x, int n)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                Vector256.Max(Vector256.LoadUnsafe(ref x, (nuint)i), Vector256<float>.Zero).StoreUnsafe(ref x, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref x, i) = MathF.Max(Unsafe.Add(ref x, i), 0f);
        }
    }

    private readonly record struct Batch(nint SupportX, nint SupportY, nint QueryX, nint Predictions, int SupportSize, int QuerySize, int Steps);

    /// <summary>One thread's scratch memory: fast weights, their gradient, one point's activations and two delta buffers (a few KB for 1-40-40-1).</summary>
    private sealed class Workspace(FastAdapter adapter)
    {
        public float[] Theta { get; } = new float[adapter._parameterCount];

        public float[] Gradient { get; } = new float[adapter._parameterCount];

        public float[] Activations { get; } = new float[adapter._activationCount];

        public float[] DeltaA { get; } = new float[adapter._maxWidth];

        public float[] DeltaB { get; } = new float[adapter._maxWidth];
    }
}
