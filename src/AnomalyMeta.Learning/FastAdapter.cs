using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AnomalyMeta.Learning;

/// <summary>
/// Scoring-time adaptation without TorchSharp: each series is adapted on its own, with its fast weights
/// in a per-thread workspace small enough for L1, hand-derived MLP gradients vectorised with <see cref="Vector256{T}"/>,
/// and series spread over threads in chunks. Same contract and results (to float rounding) as <see cref="BatchedAdapter"/>.
/// Thread-safe: the meta-parameters are read-only and every call uses its own workspaces.
/// </summary>
public sealed class FastAdapter
{
    /// <summary>
    /// Series per unit of parallel work: large enough to amortise scheduling, small enough to balance two cores. A call
    /// of this many series or fewer runs on the calling thread.
    /// </summary>
    public const int ChunkSize = 64;

    private readonly int[] _sizes;
    private readonly int[] _weightOffsets;
    private readonly int[] _biasOffsets;
    private readonly int[] _activationOffsets;
    private readonly int _parameterCount;
    private readonly int _activationCount;    // sum of the layer input widths
    private readonly int[] _deltaOffsets;
    private readonly int _deltaCount;         // sum of the layer output widths
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
        _activationOffsets = new int[layers];
        _deltaOffsets = new int[layers];
        var offset = 0;
        for (var l = 0; l < layers; l++)
        {
            _weightOffsets[l] = offset;
            offset += _sizes[l] * _sizes[l + 1];
            _biasOffsets[l] = offset;
            offset += _sizes[l + 1];
            if (l > 0)
            {
                _activationOffsets[l] = _activationOffsets[l - 1] + _sizes[l - 1];
                _deltaOffsets[l] = _deltaOffsets[l - 1] + _sizes[l];
            }

            _maxWidth = Math.Max(_maxWidth, Math.Max(_sizes[l], _sizes[l + 1]));
        }

        _parameterCount = offset;
        _activationCount = _activationOffsets[layers - 1] + _sizes[layers - 1];
        _deltaCount = _deltaOffsets[layers - 1] + 1;
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
        var supportSize = supportY.Length;
        _theta.CopyTo(workspace.Theta, 0);
        if (steps > 0)
        {
            workspace.EnsurePoints(supportSize);
        }

        var lossScale = 2f / supportSize;   // d(mean_k (p - y)^2)/dp = 2 (p - y) / K
        var last = _sizes.Length - 2;
        for (var step = 0; step < steps; step++)
        {
            TransposeHiddenWeights(workspace);
            // Pass 1: every support point's activations and deltas with the current fast weights, two points at a
            // time through the forward pass (one load of each weight row serves both).
            var k = 0;
            for (; k + 1 < supportSize; k += 2)
            {
                var (first, second) = ForwardPair(workspace, supportX.Slice(k * inputs, 2 * inputs), k);
                workspace.Deltas[workspace.DeltaOffset(last, k)] = (first - supportY[k]) * lossScale;
                workspace.Deltas[workspace.DeltaOffset(last, k + 1)] = (second - supportY[k + 1]) * lossScale;
                BackpropagatePair(workspace, k);
            }

            if (k < supportSize)
            {
                var output = Forward(workspace, supportX.Slice(k * inputs, inputs), k);
                workspace.Deltas[workspace.DeltaOffset(last, k)] = (output - supportY[k]) * lossScale;
                BackpropagatePoint(workspace, k);
            }

            // Pass 2: per layer, the full-batch gradient accumulated in registers and applied at once.
            for (var l = 0; l <= last; l++)
            {
                Update(workspace, l, supportSize);
            }
        }

        workspace.EnsurePoints(2);
        var q = 0;
        for (; q + 1 < predictions.Length; q += 2)
        {
            (predictions[q], predictions[q + 1]) = ForwardPair(workspace, queryX.Slice(q * inputs, 2 * inputs), 0);
        }

        if (q < predictions.Length)
        {
            predictions[q] = Forward(workspace, queryX.Slice(q * inputs, inputs), 0);
        }
    }

    /// <summary>
    /// <see cref="Forward"/> of two consecutive points (<paramref name="x"/> holds both), stored in rows
    /// <paramref name="k"/> and k + 1. Layers whose width is a multiple of 40 run both points in one pass over the
    /// weights (ten accumulators: the FMA units stay busy instead of waiting on five dependent chains).
    /// </summary>
    private (float First, float Second) ForwardPair(Workspace workspace, ReadOnlySpan<float> x, int k)
    {
        var inputs = _sizes[0];
        ref var theta = ref MemoryMarshal.GetArrayDataReference(workspace.Theta);
        ref var activations = ref MemoryMarshal.GetArrayDataReference(workspace.Activations);
        ref var inputA = ref Unsafe.Add(ref activations, workspace.ActivationOffset(0, k));
        ref var inputB = ref Unsafe.Add(ref activations, workspace.ActivationOffset(0, k + 1));
        for (var i = 0; i < inputs; i++)
        {
            Unsafe.Add(ref inputA, i) = (x[i] - _inputMean[i]) * _inputInverseScale[i];
            Unsafe.Add(ref inputB, i) = (x[inputs + i] - _inputMean[i]) * _inputInverseScale[i];
        }

        var layers = _sizes.Length - 1;
        for (var l = 0; l < layers - 1; l++)
        {
            int n = _sizes[l], m = _sizes[l + 1];
            ref var a = ref Unsafe.Add(ref activations, workspace.ActivationOffset(l, k));
            ref var b = ref Unsafe.Add(ref activations, workspace.ActivationOffset(l, k + 1));
            ref var outA = ref Unsafe.Add(ref activations, workspace.ActivationOffset(l + 1, k));
            ref var outB = ref Unsafe.Add(ref activations, workspace.ActivationOffset(l + 1, k + 1));
            ref var weights = ref Unsafe.Add(ref theta, _weightOffsets[l]);
            ref var bias = ref Unsafe.Add(ref theta, _biasOffsets[l]);
            if (Vector256.IsHardwareAccelerated && m % 40 == 0)
            {
                AffinePair(ref a, ref b, n, ref weights, ref bias, ref outA, ref outB, m);
            }
            else
            {
                Affine(ref a, n, ref weights, ref bias, ref outA, m);
                Affine(ref b, n, ref weights, ref bias, ref outB, m);
            }

            Relu(ref outA, m);
            Relu(ref outB, m);
        }

        int width = _sizes[layers - 1];
        ref var lastWeights = ref Unsafe.Add(ref theta, _weightOffsets[layers - 1]);
        var lastBias = Unsafe.Add(ref theta, _biasOffsets[layers - 1]);
        return (
            lastBias + Dot(ref Unsafe.Add(ref activations, workspace.ActivationOffset(layers - 1, k)), ref lastWeights, width),
            lastBias + Dot(ref Unsafe.Add(ref activations, workspace.ActivationOffset(layers - 1, k + 1)), ref lastWeights, width));
    }

    // Affine of two inputs at once, m a multiple of 40: each weight row is loaded once for both.
    private static void AffinePair(ref float inputA, ref float inputB, int n, ref float weights, ref float bias, ref float outputA, ref float outputB, int m)
    {
        for (var j = 0; j < m; j += 40)
        {
            var a0 = Vector256.LoadUnsafe(ref bias, (nuint)j);
            var a1 = Vector256.LoadUnsafe(ref bias, (nuint)(j + 8));
            var a2 = Vector256.LoadUnsafe(ref bias, (nuint)(j + 16));
            var a3 = Vector256.LoadUnsafe(ref bias, (nuint)(j + 24));
            var a4 = Vector256.LoadUnsafe(ref bias, (nuint)(j + 32));
            Vector256<float> b0 = a0, b1 = a1, b2 = a2, b3 = a3, b4 = a4;
            ref var row = ref Unsafe.Add(ref weights, j);
            for (var i = 0; i < n; i++)
            {
                var xa = Vector256.Create(Unsafe.Add(ref inputA, i));
                var xb = Vector256.Create(Unsafe.Add(ref inputB, i));
                var w = Vector256.LoadUnsafe(ref row);
                a0 = Vector256.FusedMultiplyAdd(xa, w, a0);
                b0 = Vector256.FusedMultiplyAdd(xb, w, b0);
                w = Vector256.LoadUnsafe(ref row, 8);
                a1 = Vector256.FusedMultiplyAdd(xa, w, a1);
                b1 = Vector256.FusedMultiplyAdd(xb, w, b1);
                w = Vector256.LoadUnsafe(ref row, 16);
                a2 = Vector256.FusedMultiplyAdd(xa, w, a2);
                b2 = Vector256.FusedMultiplyAdd(xb, w, b2);
                w = Vector256.LoadUnsafe(ref row, 24);
                a3 = Vector256.FusedMultiplyAdd(xa, w, a3);
                b3 = Vector256.FusedMultiplyAdd(xb, w, b3);
                w = Vector256.LoadUnsafe(ref row, 32);
                a4 = Vector256.FusedMultiplyAdd(xa, w, a4);
                b4 = Vector256.FusedMultiplyAdd(xb, w, b4);
                row = ref Unsafe.Add(ref row, m);
            }

            a0.StoreUnsafe(ref outputA, (nuint)j);
            a1.StoreUnsafe(ref outputA, (nuint)(j + 8));
            a2.StoreUnsafe(ref outputA, (nuint)(j + 16));
            a3.StoreUnsafe(ref outputA, (nuint)(j + 24));
            a4.StoreUnsafe(ref outputA, (nuint)(j + 32));
            b0.StoreUnsafe(ref outputB, (nuint)j);
            b1.StoreUnsafe(ref outputB, (nuint)(j + 8));
            b2.StoreUnsafe(ref outputB, (nuint)(j + 16));
            b3.StoreUnsafe(ref outputB, (nuint)(j + 24));
            b4.StoreUnsafe(ref outputB, (nuint)(j + 32));
        }
    }

    /// <summary>Forward pass of one point with the fast weights; stores each layer's input in row <paramref name="k"/> of the activations.</summary>
    private float Forward(Workspace workspace, ReadOnlySpan<float> x, int k)
    {
        ref var theta = ref MemoryMarshal.GetArrayDataReference(workspace.Theta);
        ref var activations = ref MemoryMarshal.GetArrayDataReference(workspace.Activations);
        ref var input0 = ref Unsafe.Add(ref activations, workspace.ActivationOffset(0, k));
        for (var i = 0; i < x.Length; i++)
        {
            Unsafe.Add(ref input0, i) = (x[i] - _inputMean[i]) * _inputInverseScale[i];
        }

        var layers = _sizes.Length - 1;
        var result = 0f;
        for (var l = 0; l < layers; l++)
        {
            int n = _sizes[l], m = _sizes[l + 1];
            ref var input = ref Unsafe.Add(ref activations, workspace.ActivationOffset(l, k));
            ref var weights = ref Unsafe.Add(ref theta, _weightOffsets[l]);
            ref var bias = ref Unsafe.Add(ref theta, _biasOffsets[l]);
            if (l == layers - 1)
            {
                // The single output unit: its weight column is contiguous, so vectorise over the inputs.
                result = bias + Dot(ref input, ref weights, n);
            }
            else
            {
                ref var output = ref Unsafe.Add(ref activations, workspace.ActivationOffset(l + 1, k));
                Affine(ref input, n, ref weights, ref bias, ref output, m);
                Relu(ref output, m);
            }
        }

        return result;
    }

    /// <summary>
    /// Copies each hidden layer's fast weights W [n, m] transposed into the workspace ([m, n]), for the step's
    /// backward passes: the deltas of a layer then flow down like a forward pass (see <see cref="BackpropagatePair"/>).
    /// </summary>
    private void TransposeHiddenWeights(Workspace workspace)
    {
        for (var l = 1; l < _sizes.Length - 1; l++)
        {
            int n = _sizes[l], m = _sizes[l + 1];
            if (m == 1 || n % 40 != 0)
            {
                continue;
            }

            var weights = workspace.Theta.AsSpan(_weightOffsets[l], n * m);
            var transposed = workspace.Transposed.AsSpan(_weightOffsets[l], n * m);
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < m; j++)
                {
                    transposed[(j * n) + i] = weights[(i * m) + j];
                }
            }
        }
    }

    /// <summary>
    /// <see cref="BackpropagatePoint"/> for points k and k + 1. A layer of a width that is a multiple of 40 sends both
    /// points' deltas down in one pass over its transposed weights (previous = Wᵀ-rows times delta, as an affine map
    /// without bias), then masks them by the ReLU; other layers go point by point.
    /// </summary>
    private void BackpropagatePair(Workspace workspace, int k)
    {
        ref var activations = ref MemoryMarshal.GetArrayDataReference(workspace.Activations);
        ref var deltas = ref MemoryMarshal.GetArrayDataReference(workspace.Deltas);
        ref var transposed = ref MemoryMarshal.GetArrayDataReference(workspace.Transposed);
        ref var zeros = ref MemoryMarshal.GetArrayDataReference(workspace.Zeros);
        for (var l = _sizes.Length - 2; l > 0; l--)
        {
            int n = _sizes[l], m = _sizes[l + 1];
            if (m == 1 || n % 40 != 0 || !Vector256.IsHardwareAccelerated)
            {
                BackpropagateLayer(workspace, l, k);
                BackpropagateLayer(workspace, l, k + 1);
                continue;
            }

            ref var previousA = ref Unsafe.Add(ref deltas, workspace.DeltaOffset(l - 1, k));
            ref var previousB = ref Unsafe.Add(ref deltas, workspace.DeltaOffset(l - 1, k + 1));
            AffinePair(ref Unsafe.Add(ref deltas, workspace.DeltaOffset(l, k)), ref Unsafe.Add(ref deltas, workspace.DeltaOffset(l, k + 1)), m,
                ref Unsafe.Add(ref transposed, _weightOffsets[l]), ref zeros, ref previousA, ref previousB, n);
            MaskInactive(ref Unsafe.Add(ref activations, workspace.ActivationOffset(l, k)), ref previousA, n);
            MaskInactive(ref Unsafe.Add(ref activations, workspace.ActivationOffset(l, k + 1)), ref previousB, n);
        }
    }

    // delta[i] = 0 where the ReLU output input[i] is 0 (n a multiple of 8).
    private static void MaskInactive(ref float input, ref float delta, int n)
    {
        for (var i = 0; i < n; i += Vector256<float>.Count)
        {
            var active = Vector256.GreaterThan(Vector256.LoadUnsafe(ref input, (nuint)i), Vector256<float>.Zero);
            (Vector256.LoadUnsafe(ref delta, (nuint)i) & active).StoreUnsafe(ref delta, (nuint)i);
        }
    }

    /// <summary>Given point k's output delta, fills its deltas (d loss / d pre-activation) of every hidden layer.</summary>
    private void BackpropagatePoint(Workspace workspace, int k)
    {
        for (var l = _sizes.Length - 2; l > 0; l--)
        {
            BackpropagateLayer(workspace, l, k);
        }
    }

    /// <summary>Point k's deltas of layer l − 1 from its deltas of layer l.</summary>
    private void BackpropagateLayer(Workspace workspace, int l, int k)
    {
        ref var theta = ref MemoryMarshal.GetArrayDataReference(workspace.Theta);
        ref var activations = ref MemoryMarshal.GetArrayDataReference(workspace.Activations);
        ref var deltas = ref MemoryMarshal.GetArrayDataReference(workspace.Deltas);
        {
            int n = _sizes[l], m = _sizes[l + 1];
            ref var input = ref Unsafe.Add(ref activations, workspace.ActivationOffset(l, k));   // ReLU output of layer l - 1
            ref var weights = ref Unsafe.Add(ref theta, _weightOffsets[l]);
            ref var delta = ref Unsafe.Add(ref deltas, workspace.DeltaOffset(l, k));
            ref var previous = ref Unsafe.Add(ref deltas, workspace.DeltaOffset(l - 1, k));
            if (m == 1)
            {
                // The output unit's weight column times its delta, masked by the ReLU. Vectorised: which units are
                // off is random, and the scalar loop's branch mispredicted on half of them (a third of adaptation).
                var d = delta;
                var i = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    var scale = Vector256.Create(d);
                    for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                    {
                        var active = Vector256.GreaterThan(Vector256.LoadUnsafe(ref input, (nuint)i), Vector256<float>.Zero);
                        ((Vector256.LoadUnsafe(ref weights, (nuint)i) * scale) & active).StoreUnsafe(ref previous, (nuint)i);
                    }
                }

                for (; i < n; i++)
                {
                    Unsafe.Add(ref previous, i) = Unsafe.Add(ref input, i) > 0f ? Unsafe.Add(ref weights, i) * d : 0f;
                }
            }
            else
            {
                BackpropagateThroughRelu(ref weights, n, m, ref delta, ref input, ref previous);
            }
        }
    }

    /// <summary>
    /// SGD step of layer l from the stored activations and deltas of all K points: dW[i, :] = sum_k a[k, i] delta[k, :],
    /// db = sum_k delta[k, :]. Every gradient row is summed in registers and applied straight to the fast weights.
    /// </summary>
    private void Update(Workspace workspace, int l, int points)
    {
        int n = _sizes[l], m = _sizes[l + 1];
        ref var theta = ref MemoryMarshal.GetArrayDataReference(workspace.Theta);
        ref var weights = ref Unsafe.Add(ref theta, _weightOffsets[l]);
        ref var bias = ref Unsafe.Add(ref theta, _biasOffsets[l]);
        ref var activations = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(workspace.Activations), workspace.ActivationOffset(l, 0));   // [K, n]
        ref var deltas = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(workspace.Deltas), workspace.DeltaOffset(l, 0));              // [K, m]
        ref var gradient = ref MemoryMarshal.GetArrayDataReference(workspace.Gradient);                                                        // scratch, [max(n, m)]
        ref var stepSizes = ref _stepSizes is null ? ref Unsafe.NullRef<float>() : ref MemoryMarshal.GetArrayDataReference(_stepSizes);

        // Bias: sum of the deltas over the points.
        MemoryMarshal.CreateSpan(ref gradient, m).Clear();
        for (var k = 0; k < points; k++)
        {
            Axpy(1f, ref Unsafe.Add(ref deltas, k * m), ref gradient, m);
        }

        ApplyStep(ref gradient, ref bias, ref stepSizes, _biasOffsets[l], m);

        if (m == 1)
        {
            // One output: the gradient column over the inputs is sum_k delta[k] a[k, :].
            MemoryMarshal.CreateSpan(ref gradient, n).Clear();
            for (var k = 0; k < points; k++)
            {
                Axpy(Unsafe.Add(ref deltas, k), ref Unsafe.Add(ref activations, k * n), ref gradient, n);
            }

            ApplyStep(ref gradient, ref weights, ref stepSizes, _weightOffsets[l], n);
            return;
        }

        var i = 0;
        if (Vector512.IsHardwareAccelerated && m >= 40)
        {
            // Two inputs at once (32 vector registers with AVX-512): each point's deltas, loaded once, feed both rows'
            // accumulators. One input at a time did 12 loads per 10 FMAs and waited on the load ports. Every
            // accumulator sums the same products in the same order as below, so the rows are bit-identical.
            ref var second = ref Unsafe.Add(ref gradient, m);
            for (; i + 1 < n; i += 2)
            {
                var j = GradientBlocksOfPair(ref activations, ref deltas, ref gradient, ref second, i, n, m, points);
                GradientTail(ref activations, ref deltas, ref gradient, i, n, m, points, j);
                GradientTail(ref activations, ref deltas, ref second, i + 1, n, m, points, j);
                ApplyStep(ref gradient, ref Unsafe.Add(ref weights, i * m), ref stepSizes, _weightOffsets[l] + (i * m), m);
                ApplyStep(ref second, ref Unsafe.Add(ref weights, (i + 1) * m), ref stepSizes, _weightOffsets[l] + ((i + 1) * m), m);
            }
        }

        for (; i < n; i++)
        {
            var j = 0;
            ref var row = ref Unsafe.Add(ref weights, i * m);
            if (Vector256.IsHardwareAccelerated)
            {
                // Ten registers per 40 outputs, even and odd points apart: ten independent FMA chains keep both units
                // busy where five wait on their own latency. No branch on inactive units (see Affine).
                for (; j <= m - 40; j += 40)
                {
                    Vector256<float> g0 = default, g1 = default, g2 = default, g3 = default, g4 = default;
                    Vector256<float> h0 = default, h1 = default, h2 = default, h3 = default, h4 = default;
                    ref var d = ref Unsafe.Add(ref deltas, j);
                    var k = 0;
                    for (; k + 1 < points; k += 2)
                    {
                        var va = Vector256.Create(Unsafe.Add(ref activations, (k * n) + i));
                        var vb = Vector256.Create(Unsafe.Add(ref activations, ((k + 1) * n) + i));
                        ref var e = ref Unsafe.Add(ref d, m);
                        g0 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d), g0);
                        h0 = Vector256.FusedMultiplyAdd(vb, Vector256.LoadUnsafe(ref e), h0);
                        g1 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 8), g1);
                        h1 = Vector256.FusedMultiplyAdd(vb, Vector256.LoadUnsafe(ref e, 8), h1);
                        g2 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 16), g2);
                        h2 = Vector256.FusedMultiplyAdd(vb, Vector256.LoadUnsafe(ref e, 16), h2);
                        g3 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 24), g3);
                        h3 = Vector256.FusedMultiplyAdd(vb, Vector256.LoadUnsafe(ref e, 24), h3);
                        g4 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 32), g4);
                        h4 = Vector256.FusedMultiplyAdd(vb, Vector256.LoadUnsafe(ref e, 32), h4);
                        d = ref Unsafe.Add(ref d, 2 * m);
                    }

                    if (k < points)
                    {
                        var va = Vector256.Create(Unsafe.Add(ref activations, (k * n) + i));
                        g0 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d), g0);
                        g1 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 8), g1);
                        g2 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 16), g2);
                        g3 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 24), g3);
                        g4 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 32), g4);
                    }

                    (g0 + h0).StoreUnsafe(ref gradient, (nuint)j);
                    (g1 + h1).StoreUnsafe(ref gradient, (nuint)(j + 8));
                    (g2 + h2).StoreUnsafe(ref gradient, (nuint)(j + 16));
                    (g3 + h3).StoreUnsafe(ref gradient, (nuint)(j + 24));
                    (g4 + h4).StoreUnsafe(ref gradient, (nuint)(j + 32));
                }
            }

            GradientTail(ref activations, ref deltas, ref gradient, i, n, m, points, j);
            ApplyStep(ref gradient, ref row, ref stepSizes, _weightOffsets[l] + (i * m), m);
        }
    }

    /// <summary>
    /// Gradient rows of inputs i and i + 1 over the whole 40-wide blocks of outputs: sum_k a[k, i] delta[k, :] into
    /// <paramref name="first"/> and sum_k a[k, i + 1] delta[k, :] into <paramref name="second"/>, even and odd points
    /// apart as in <see cref="Update"/>. Returns where the blocks end.
    /// </summary>
    private static int GradientBlocksOfPair(ref float activations, ref float deltas, ref float first, ref float second, int i, int n, int m, int points)
    {
        var j = 0;
        for (; j <= m - 40; j += 40)
        {
            Vector256<float> g0 = default, g1 = default, g2 = default, g3 = default, g4 = default;
            Vector256<float> h0 = default, h1 = default, h2 = default, h3 = default, h4 = default;
            Vector256<float> p0 = default, p1 = default, p2 = default, p3 = default, p4 = default;
            Vector256<float> q0 = default, q1 = default, q2 = default, q3 = default, q4 = default;
            ref var d = ref Unsafe.Add(ref deltas, j);
            var k = 0;
            for (; k + 1 < points; k += 2)
            {
                ref var even = ref Unsafe.Add(ref activations, (k * n) + i);
                ref var odd = ref Unsafe.Add(ref even, n);
                var va = Vector256.Create(even);
                var wa = Vector256.Create(Unsafe.Add(ref even, 1));
                var vb = Vector256.Create(odd);
                var wb = Vector256.Create(Unsafe.Add(ref odd, 1));
                ref var e = ref Unsafe.Add(ref d, m);
                var x = Vector256.LoadUnsafe(ref d);
                var y = Vector256.LoadUnsafe(ref e);
                g0 = Vector256.FusedMultiplyAdd(va, x, g0);
                p0 = Vector256.FusedMultiplyAdd(wa, x, p0);
                h0 = Vector256.FusedMultiplyAdd(vb, y, h0);
                q0 = Vector256.FusedMultiplyAdd(wb, y, q0);
                x = Vector256.LoadUnsafe(ref d, 8);
                y = Vector256.LoadUnsafe(ref e, 8);
                g1 = Vector256.FusedMultiplyAdd(va, x, g1);
                p1 = Vector256.FusedMultiplyAdd(wa, x, p1);
                h1 = Vector256.FusedMultiplyAdd(vb, y, h1);
                q1 = Vector256.FusedMultiplyAdd(wb, y, q1);
                x = Vector256.LoadUnsafe(ref d, 16);
                y = Vector256.LoadUnsafe(ref e, 16);
                g2 = Vector256.FusedMultiplyAdd(va, x, g2);
                p2 = Vector256.FusedMultiplyAdd(wa, x, p2);
                h2 = Vector256.FusedMultiplyAdd(vb, y, h2);
                q2 = Vector256.FusedMultiplyAdd(wb, y, q2);
                x = Vector256.LoadUnsafe(ref d, 24);
                y = Vector256.LoadUnsafe(ref e, 24);
                g3 = Vector256.FusedMultiplyAdd(va, x, g3);
                p3 = Vector256.FusedMultiplyAdd(wa, x, p3);
                h3 = Vector256.FusedMultiplyAdd(vb, y, h3);
                q3 = Vector256.FusedMultiplyAdd(wb, y, q3);
                x = Vector256.LoadUnsafe(ref d, 32);
                y = Vector256.LoadUnsafe(ref e, 32);
                g4 = Vector256.FusedMultiplyAdd(va, x, g4);
                p4 = Vector256.FusedMultiplyAdd(wa, x, p4);
                h4 = Vector256.FusedMultiplyAdd(vb, y, h4);
                q4 = Vector256.FusedMultiplyAdd(wb, y, q4);
                d = ref Unsafe.Add(ref d, 2 * m);
            }

            if (k < points)
            {
                ref var last = ref Unsafe.Add(ref activations, (k * n) + i);
                var va = Vector256.Create(last);
                var wa = Vector256.Create(Unsafe.Add(ref last, 1));
                g0 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d), g0);
                p0 = Vector256.FusedMultiplyAdd(wa, Vector256.LoadUnsafe(ref d), p0);
                g1 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 8), g1);
                p1 = Vector256.FusedMultiplyAdd(wa, Vector256.LoadUnsafe(ref d, 8), p1);
                g2 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 16), g2);
                p2 = Vector256.FusedMultiplyAdd(wa, Vector256.LoadUnsafe(ref d, 16), p2);
                g3 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 24), g3);
                p3 = Vector256.FusedMultiplyAdd(wa, Vector256.LoadUnsafe(ref d, 24), p3);
                g4 = Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref d, 32), g4);
                p4 = Vector256.FusedMultiplyAdd(wa, Vector256.LoadUnsafe(ref d, 32), p4);
            }

            (g0 + h0).StoreUnsafe(ref first, (nuint)j);
            (g1 + h1).StoreUnsafe(ref first, (nuint)(j + 8));
            (g2 + h2).StoreUnsafe(ref first, (nuint)(j + 16));
            (g3 + h3).StoreUnsafe(ref first, (nuint)(j + 24));
            (g4 + h4).StoreUnsafe(ref first, (nuint)(j + 32));
            (p0 + q0).StoreUnsafe(ref second, (nuint)j);
            (p1 + q1).StoreUnsafe(ref second, (nuint)(j + 8));
            (p2 + q2).StoreUnsafe(ref second, (nuint)(j + 16));
            (p3 + q3).StoreUnsafe(ref second, (nuint)(j + 24));
            (p4 + q4).StoreUnsafe(ref second, (nuint)(j + 32));
        }

        return j;
    }

    /// <summary>Input i's gradient row from output <paramref name="j"/> on: 8-wide blocks, then one output at a time.</summary>
    private static void GradientTail(ref float activations, ref float deltas, ref float gradient, int i, int n, int m, int points, int j)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j <= m - 8; j += 8)
            {
                Vector256<float> g0 = default;
                for (var k = 0; k < points; k++)
                {
                    g0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref activations, (k * n) + i)), Vector256.LoadUnsafe(ref deltas, (nuint)((k * m) + j)), g0);
                }

                g0.StoreUnsafe(ref gradient, (nuint)j);
            }
        }

        for (; j < m; j++)
        {
            var sum = 0f;
            for (var k = 0; k < points; k++)
            {
                sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref activations, (k * n) + i), Unsafe.Add(ref deltas, (k * m) + j), sum);
            }

            Unsafe.Add(ref gradient, j) = sum;
        }
    }

    // parameters -= step * gradient over n floats: the scalar step, or Meta-SGD's per-parameter steps starting at stepOffset.
    private void ApplyStep(ref float gradient, ref float parameters, ref float stepSizes, int stepOffset, int n)
    {
        if (_stepSizes is null)
        {
            Axpy(-_learningRate, ref gradient, ref parameters, n);
        }
        else
        {
            SubtractProduct(ref Unsafe.Add(ref stepSizes, stepOffset), ref gradient, ref parameters, n);
        }
    }

    // output[0..m) = bias + sum_i input[i] * W[i, 0..m), W row-major [n, m]. Blocks of 40 outputs stay in five
    // registers across the whole input loop instead of going through memory once per input. No skipping of zero
    // inputs: which ReLU units are off is random, and the mispredicted branch cost more than the multiplications it saved.
    private static void Affine(ref float input, int n, ref float weights, ref float bias, ref float output, int m)
    {
        var j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j <= m - 40; j += 40)
            {
                var a0 = Vector256.LoadUnsafe(ref bias, (nuint)j);
                var a1 = Vector256.LoadUnsafe(ref bias, (nuint)(j + 8));
                var a2 = Vector256.LoadUnsafe(ref bias, (nuint)(j + 16));
                var a3 = Vector256.LoadUnsafe(ref bias, (nuint)(j + 24));
                var a4 = Vector256.LoadUnsafe(ref bias, (nuint)(j + 32));
                ref var row = ref Unsafe.Add(ref weights, j);
                for (var i = 0; i < n; i++)
                {
                    var vx = Vector256.Create(Unsafe.Add(ref input, i));
                    a0 = Vector256.FusedMultiplyAdd(vx, Vector256.LoadUnsafe(ref row), a0);
                    a1 = Vector256.FusedMultiplyAdd(vx, Vector256.LoadUnsafe(ref row, 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(vx, Vector256.LoadUnsafe(ref row, 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(vx, Vector256.LoadUnsafe(ref row, 24), a3);
                    a4 = Vector256.FusedMultiplyAdd(vx, Vector256.LoadUnsafe(ref row, 32), a4);
                    row = ref Unsafe.Add(ref row, m);
                }

                a0.StoreUnsafe(ref output, (nuint)j);
                a1.StoreUnsafe(ref output, (nuint)(j + 8));
                a2.StoreUnsafe(ref output, (nuint)(j + 16));
                a3.StoreUnsafe(ref output, (nuint)(j + 24));
                a4.StoreUnsafe(ref output, (nuint)(j + 32));
            }

            for (; j <= m - 8; j += 8)
            {
                var a0 = Vector256.LoadUnsafe(ref bias, (nuint)j);
                ref var row = ref Unsafe.Add(ref weights, j);
                for (var i = 0; i < n; i++)
                {
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref input, i)), Vector256.LoadUnsafe(ref row), a0);
                    row = ref Unsafe.Add(ref row, m);
                }

                a0.StoreUnsafe(ref output, (nuint)j);
            }
        }

        for (; j < m; j++)
        {
            var sum = Unsafe.Add(ref bias, j);
            for (var i = 0; i < n; i++)
            {
                sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref input, i), Unsafe.Add(ref weights, (i * m) + j), sum);
            }

            Unsafe.Add(ref output, j) = sum;
        }
    }

    // previous[i] = (input[i] > 0) ? sum_j W[i, j] * delta[j] : 0 for i < n, W row-major [n, m]:
    // the gradient below a ReLU layer whose output (this layer's input) was input. Eight rows at a time, their eight
    // partial-sum vectors reduced together with horizontal adds, and the ReLU mask applied without a branch.
    private static void BackpropagateThroughRelu(ref float weights, int n, int m, ref float delta, ref float input, ref float previous)
    {
        var i = 0;
        var vectorized = m & ~(Vector256<float>.Count - 1);
        if (Avx.IsSupported && vectorized > 0)
        {
            Span<float> tails = stackalloc float[Vector256<float>.Count];
            for (; i <= n - 8; i += 8)
            {
                ref var row = ref Unsafe.Add(ref weights, i * m);
                var s0 = RowDot(ref row, ref delta, vectorized);
                var s1 = RowDot(ref Unsafe.Add(ref row, m), ref delta, vectorized);
                var s2 = RowDot(ref Unsafe.Add(ref row, 2 * m), ref delta, vectorized);
                var s3 = RowDot(ref Unsafe.Add(ref row, 3 * m), ref delta, vectorized);
                var s4 = RowDot(ref Unsafe.Add(ref row, 4 * m), ref delta, vectorized);
                var s5 = RowDot(ref Unsafe.Add(ref row, 5 * m), ref delta, vectorized);
                var s6 = RowDot(ref Unsafe.Add(ref row, 6 * m), ref delta, vectorized);
                var s7 = RowDot(ref Unsafe.Add(ref row, 7 * m), ref delta, vectorized);
                var u0 = Avx.HorizontalAdd(Avx.HorizontalAdd(s0, s1), Avx.HorizontalAdd(s2, s3));   // rows 0-3: low-lane sums | high-lane sums
                var u1 = Avx.HorizontalAdd(Avx.HorizontalAdd(s4, s5), Avx.HorizontalAdd(s6, s7));   // rows 4-7
                var sums = Avx.Permute2x128(u0, u1, 0x20) + Avx.Permute2x128(u0, u1, 0x31);         // rows 0-7
                if (vectorized < m)
                {
                    for (var r = 0; r < 8; r++)
                    {
                        var tail = 0f;
                        for (var j = vectorized; j < m; j++)
                        {
                            tail = MathF.FusedMultiplyAdd(Unsafe.Add(ref row, (r * m) + j), Unsafe.Add(ref delta, j), tail);
                        }

                        tails[r] = tail;
                    }

                    sums += Vector256.Create<float>(tails);
                }

                var active = Vector256.GreaterThan(Vector256.LoadUnsafe(ref input, (nuint)i), Vector256<float>.Zero);
                (sums & active).StoreUnsafe(ref previous, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref previous, i) = Unsafe.Add(ref input, i) > 0f ? Dot(ref Unsafe.Add(ref weights, i * m), ref delta, m) : 0f;
        }
    }

    // Unreduced dot product over the first `length` floats (a multiple of 8).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> RowDot(ref float row, ref float delta, int length)
    {
        var acc = Vector256.Multiply(Vector256.LoadUnsafe(ref row), Vector256.LoadUnsafe(ref delta));
        for (var j = Vector256<float>.Count; j < length; j += Vector256<float>.Count)
        {
            acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref row, (nuint)j), Vector256.LoadUnsafe(ref delta, (nuint)j), acc);
        }

        return acc;
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

    /// <summary>
    /// One thread's scratch memory: fast weights, every layer's input activations and output deltas for the K support points
    /// (row-major [K, width]), and a gradient row. About 11 KB for 1-40-40-1 and K = 24: it stays in L1.
    /// </summary>
    private sealed class Workspace(FastAdapter adapter)
    {
        private readonly FastAdapter _adapter = adapter;
        private int _points = 1;

        public float[] Theta { get; } = new float[adapter._parameterCount];

        /// <summary>Scratch for one gradient row, or two (Update's paired inputs).</summary>
        public float[] Gradient { get; } = new float[2 * adapter._maxWidth];

        /// <summary>The hidden layers' fast weights transposed, at the same offsets as in <see cref="Theta"/>.</summary>
        public float[] Transposed { get; } = new float[adapter._parameterCount];

        /// <summary>A zero bias for the backward passes.</summary>
        public float[] Zeros { get; } = new float[adapter._maxWidth];

        public float[] Activations { get; private set; } = new float[adapter._activationCount];

        public float[] Deltas { get; private set; } = new float[adapter._deltaCount];

        public void EnsurePoints(int points)
        {
            if (points > _points)
            {
                _points = points;
                Activations = new float[_adapter._activationCount * points];
                Deltas = new float[_adapter._deltaCount * points];
            }
        }

        // Layer l's block starts after the blocks of the layers before it, each [points, width].
        public int ActivationOffset(int layer, int k) => (_adapter._activationOffsets[layer] * _points) + (k * _adapter._sizes[layer]);

        public int DeltaOffset(int layer, int k) => (_adapter._deltaOffsets[layer] * _points) + (k * _adapter._sizes[layer + 1]);
    }
}
