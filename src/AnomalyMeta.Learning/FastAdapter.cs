using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AnomalyMeta.Learning;

/// <summary>
/// Scoring-time adaptation without TorchSharp. Each series is adapted on its own, a layer at a time over all its
/// points: the forward pass, the deltas and the weight gradients are each one small matrix product
/// (<see cref="TileProduct"/>) with its tile in registers, so the FMA units set the pace rather than the loads or the
/// per-point bookkeeping. Widths are padded with zero units to whole registers (AVX-512, AVX2 or scalar, chosen at
/// start); a zero unit stays zero through every step, so the padding changes no result. Series are spread over threads
/// in chunks. Same contract and results (to float rounding) as <see cref="BatchedAdapter"/>. Thread-safe: the
/// meta-parameters are read-only and every call uses its own workspaces.
/// </summary>
public sealed unsafe class FastAdapter
{
    /// <summary>
    /// Series per unit of parallel work: large enough to amortise scheduling, small enough to balance two cores. A call
    /// of this many series or fewer runs on the calling thread.
    /// </summary>
    public const int ChunkSize = 64;

    private readonly int _lanes;             // floats per register of the kernels' width
    private readonly int[] _sizes;           // real widths [inputs, hidden..., 1]
    private readonly int _layers;
    private readonly int[] _strides;         // per layer: the row stride of its input activations, whole registers (zeros past the real width)
    private readonly int[] _gradientRows;    // per layer: its input width rounded up to whole tiles of rows
    private readonly int[] _weightOffsets;   // hidden layer l: W [_gradientRows[l], _strides[l + 1]]; output layer: w [_strides[last]]
    private readonly int[] _biasOffsets;
    private readonly int[] _transposedOffsets;   // layers 1 .. last - 1: Wᵀ [_sizes[l + 1], _strides[l]]
    private readonly int _parameterCount;
    private readonly int _transposedCount;
    private readonly AlignedFloats _theta;            // the meta-parameters, padded
    private readonly AlignedFloats _stepSizes;        // per parameter (Meta-SGD's, or the scalar rate everywhere), zero on padding
    private readonly AlignedFloats _thetaTransposed;  // the first step's backward weights: the same for every series
    private readonly float[] _inputMean;
    private readonly float[] _inputInverseScale;

    // One workspace per thread, kept across calls and shared by the adapters of one network shape: scoring calls
    // once per 64 series, and a new workspace each time (pinned, zeroed, over 100 KB at K = 168) is not free.
    [ThreadStatic]
    private static Workspace? t_workspace;

    public FastAdapter(MetaParameters parameters)
        : this(parameters, DefaultLanes())
    {
    }

    /// <summary>With registers of <paramref name="lanes"/> floats (16, 8 or 1): the tests run every width on one machine.</summary>
    internal FastAdapter(MetaParameters parameters, int lanes)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        if (lanes is not (16 or 8 or 1) || (lanes == 16 && !Vector512.IsHardwareAccelerated) || (lanes == 8 && !Vector256.IsHardwareAccelerated))
        {
            throw new ArgumentOutOfRangeException(nameof(lanes), lanes, "Registers of 16 (AVX-512), 8 (AVX2) or 1 float, as this machine accelerates.");
        }

        _lanes = lanes;
        _sizes = [.. parameters.LayerSizes];
        _layers = _sizes.Length - 1;
        var last = _layers - 1;
        var padding = Math.Max(lanes, TileProduct.Rows);
        _strides = new int[_layers];
        _gradientRows = new int[_layers];
        _weightOffsets = new int[_layers];
        _biasOffsets = new int[_layers];
        _transposedOffsets = new int[_layers];
        for (var l = 0; l < _layers; l++)
        {
            _strides[l] = RoundUp(_sizes[l], padding);
            _gradientRows[l] = RoundUp(_sizes[l], TileProduct.Rows);
        }

        var offset = 0;
        var transposedOffset = 0;
        for (var l = 0; l < _layers; l++)
        {
            // Every block starts on a cache line, so the kernels' aligned loads never split one.
            _weightOffsets[l] = offset;
            offset += RoundUp(l == last ? _strides[l] : _gradientRows[l] * _strides[l + 1], AlignedFloats.LineFloats);
            _biasOffsets[l] = offset;
            offset += RoundUp(l == last ? 1 : _strides[l + 1], AlignedFloats.LineFloats);
            if (l > 0 && l < last)
            {
                _transposedOffsets[l] = transposedOffset;
                transposedOffset += RoundUp(_sizes[l + 1] * _strides[l], AlignedFloats.LineFloats);
            }
        }

        _parameterCount = offset;
        _transposedCount = transposedOffset;
        _theta = new AlignedFloats(_parameterCount);
        _stepSizes = new AlignedFloats(_parameterCount);
        for (var l = 0; l < _layers; l++)
        {
            Pack(l, parameters.Weights[l], parameters.Biases[l], _theta.Pointer);
            if (parameters.HasStepSizes)
            {
                Pack(l, parameters.WeightStepSizes![l], parameters.BiasStepSizes![l], _stepSizes.Pointer);
            }
            else
            {
                Pack(l, Filled(parameters.Weights[l].Length, parameters.InnerLearningRate), Filled(parameters.Biases[l].Length, parameters.InnerLearningRate), _stepSizes.Pointer);
            }
        }

        _thetaTransposed = new AlignedFloats(_transposedCount);
        Transpose(_theta.Pointer, _thetaTransposed.Pointer);
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
    public void AdaptAndPredict(int count, int supportSize, ReadOnlySpan<float> supportX, ReadOnlySpan<float> supportY, int querySize, ReadOnlySpan<float> queryX, int steps, Span<float> predictions)
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
                var workspace = ThreadWorkspace();
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
                chunk => RunChunk(batch, chunk, count, ThreadWorkspace()));
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

    private Workspace ThreadWorkspace()
    {
        if (t_workspace is null || !t_workspace.Fits(this))
        {
            t_workspace = new Workspace(this);
        }

        return t_workspace;
    }

    private static int DefaultLanes() => Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 1;

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    private static float[] Filled(int length, float value)
    {
        var values = new float[length];
        Array.Fill(values, value);
        return values;
    }

    // Layer l's row-major [in, out] weights and [out] biases into the padded layout; padding stays zero.
    private void Pack(int l, float[] weights, float[] biases, float* target)
    {
        int n = _sizes[l], m = _sizes[l + 1];
        var stride = l == _layers - 1 ? 1 : _strides[l + 1];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < m; j++)
            {
                target[_weightOffsets[l] + (i * stride) + j] = weights[(i * m) + j];
            }
        }

        for (var j = 0; j < m; j++)
        {
            target[_biasOffsets[l] + j] = biases[j];
        }
    }

    // Each hidden-to-hidden layer's W [n, m] into Wᵀ [m, n] (rows strided like the layer's input), for the backward pass.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Transpose(float* theta, float* transposed)
    {
        for (var l = 1; l < _layers - 1; l++)
        {
            int n = _sizes[l], m = _sizes[l + 1];
            float* weights = theta + _weightOffsets[l], target = transposed + _transposedOffsets[l];
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < m; j++)
                {
                    target[(j * _strides[l]) + i] = weights[(i * _strides[l + 1]) + j];
                }
            }
        }
    }

    private void RunChunk(Batch batch, int chunk, int count, Workspace workspace)
    {
        switch (_lanes)
        {
            case 16:
                RunChunk<Lanes512>(batch, chunk, count, workspace);
                break;
            case 8:
                RunChunk<Lanes256>(batch, chunk, count, workspace);
                break;
            default:
                RunChunk<Lanes1>(batch, chunk, count, workspace);
                break;
        }
    }

    private void RunChunk<TLanes>(Batch batch, int chunk, int count, Workspace workspace)
        where TLanes : struct, ILanes<TLanes>
    {
        var inputs = _sizes[0];
        var end = Math.Min(count, (chunk + 1) * ChunkSize);
        for (var series = chunk * ChunkSize; series < end; series++)
        {
            var supportX = (float*)batch.SupportX + ((long)series * batch.SupportSize * inputs);
            var supportY = (float*)batch.SupportY + ((long)series * batch.SupportSize);
            var queryX = (float*)batch.QueryX + ((long)series * batch.QuerySize * inputs);
            var predictions = (float*)batch.Predictions + ((long)series * batch.QuerySize);
            AdaptOne<TLanes>(workspace, batch, supportX, supportY, queryX, predictions);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AdaptOne<TLanes>(Workspace workspace, Batch batch, float* supportX, float* supportY, float* queryX, float* predictions)
        where TLanes : struct, ILanes<TLanes>
    {
        // The first step reads the meta-parameters in place and writes the fast weights into the workspace: no copy.
        var weights = _theta.Pointer;
        if (batch.Steps > 0)
        {
            var points = batch.SupportSize;
            var rows = RoundUp(points, TileProduct.Rows);   // rows past the points carry zero deltas
            workspace.EnsureRows(rows);
            Normalize(supportX, points, rows, workspace.Activations[0].Pointer);
            var lossScale = 2f / points;   // d(mean_k (p - y)^2)/dp = 2 (p - y) / K
            var outputs = workspace.Outputs.Pointer;
            var outputDeltas = workspace.OutputDeltas.Pointer;
            for (var step = 0; step < batch.Steps; step++)
            {
                var transposed = _thetaTransposed.Pointer;
                if (step > 0)
                {
                    transposed = workspace.Transposed.Pointer;
                    Transpose(weights, transposed);
                }

                Forward<TLanes>(workspace, weights, rows);
                for (var k = 0; k < points; k++)
                {
                    outputDeltas[k] = (outputs[k] - supportY[k]) * lossScale;
                }

                new Span<float>(outputDeltas + points, rows - points).Clear();
                Backward<TLanes>(workspace, weights, transposed, rows);
                Descend<TLanes>(workspace, weights, workspace.Theta.Pointer, points);
                weights = workspace.Theta.Pointer;
            }
        }

        var queryRows = RoundUp(batch.QuerySize, TileProduct.Rows);
        workspace.EnsureRows(queryRows);
        Normalize(queryX, batch.QuerySize, queryRows, workspace.Activations[0].Pointer);
        Forward<TLanes>(workspace, weights, queryRows);
        Buffer.MemoryCopy(workspace.Outputs.Pointer, predictions, batch.QuerySize * sizeof(float), batch.QuerySize * sizeof(float));
    }

    // The inputs of `points` points, normalised, into the first layer's rows; rows up to `rows` are zeroed.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Normalize(float* x, int points, int rows, float* activations)
    {
        int inputs = _sizes[0], stride = _strides[0];
        for (var k = 0; k < points; k++)
        {
            float* row = activations + (k * stride), input = x + (k * inputs);
            for (var i = 0; i < inputs; i++)
            {
                row[i] = (input[i] - _inputMean[i]) * _inputInverseScale[i];
            }
        }

        new Span<float>(activations + (points * stride), (rows - points) * stride).Clear();
    }

    /// <summary>Every layer's activations of the first <paramref name="rows"/> points with the weights <paramref name="theta"/>, and the outputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Forward<TLanes>(Workspace workspace, float* theta, int rows)
        where TLanes : struct, ILanes<TLanes>
    {
        var last = _layers - 1;
        for (var l = 0; l < last; l++)
        {
            var output = workspace.Activations[l + 1].Pointer;
            TileProduct.Multiply<TLanes, StoreRelu<TLanes>>(
                workspace.Activations[l].Pointer, _strides[l], 1, rows, _sizes[l],
                theta + _weightOffsets[l], _strides[l + 1], _strides[l + 1], theta + _biasOffsets[l],
                new StoreRelu<TLanes>(output), _strides[l + 1]);
        }

        // The single linear output: one dot product per point over the last hidden layer, four points at a time.
        var lanes = TLanes.Count;
        var stride = _strides[last];
        var activations = workspace.Activations[last].Pointer;
        var weights = theta + _weightOffsets[last];
        var bias = Vector128.Create(theta[_biasOffsets[last]]);
        var outputs = workspace.Outputs.Pointer;
        for (var k = 0; k < rows; k += TileProduct.Rows)
        {
            var row = activations + (k * stride);
            TLanes s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
            for (var j = 0; j < stride; j += lanes)
            {
                var w = TLanes.Load(weights + j);
                s0 = TLanes.MultiplyAdd(TLanes.Load(row + j), w, s0);
                s1 = TLanes.MultiplyAdd(TLanes.Load(row + stride + j), w, s1);
                s2 = TLanes.MultiplyAdd(TLanes.Load(row + (2 * stride) + j), w, s2);
                s3 = TLanes.MultiplyAdd(TLanes.Load(row + (3 * stride) + j), w, s3);
            }

            (TLanes.SumOfEach(s0, s1, s2, s3) + bias).Store(outputs + k);
        }
    }

    /// <summary>From the output deltas, every hidden layer's deltas (d loss / d pre-activation) of the first <paramref name="rows"/> points.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Backward<TLanes>(Workspace workspace, float* theta, float* transposed, int rows)
        where TLanes : struct, ILanes<TLanes>
    {
        var last = _layers - 1;
        if (last == 0)
        {
            return;
        }

        // The last hidden layer: the output delta times the output weights, through the ReLU.
        var lanes = TLanes.Count;
        var stride = _strides[last];
        var weights = theta + _weightOffsets[last];
        var activations = workspace.Activations[last].Pointer;
        var deltas = workspace.Deltas[last - 1].Pointer;
        var outputDeltas = workspace.OutputDeltas.Pointer;
        for (var k = 0; k < rows; k++)
        {
            var delta = TLanes.Broadcast(outputDeltas[k]);
            for (var j = 0; j < stride; j += lanes)
            {
                var offset = (k * stride) + j;
                TLanes.WherePositive(TLanes.Load(activations + offset), TLanes.MultiplyAdd(delta, TLanes.Load(weights + j), TLanes.Zero)).Store(deltas + offset);
            }
        }

        // Lower layers: previous[k, i] = sum_j delta[k, j] W[i, j] where the layer's input was above zero.
        for (var l = last - 1; l > 0; l--)
        {
            TileProduct.Multiply<TLanes, StoreWherePositive<TLanes>>(
                workspace.Deltas[l].Pointer, _strides[l + 1], 1, rows, _sizes[l + 1],
                transposed + _transposedOffsets[l], _strides[l], _strides[l], null,
                new StoreWherePositive<TLanes>(workspace.Deltas[l - 1].Pointer, workspace.Activations[l].Pointer), _strides[l]);
        }
    }

    /// <summary>
    /// One SGD step of every layer from the stored activations and deltas of the <paramref name="points"/> support points:
    /// dW = Aᵀ delta and db = the deltas' column sums; <paramref name="target"/> = <paramref name="source"/> - steps * gradient,
    /// written as each register of the gradient leaves the tile (target may be source). Every parameter is written.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Descend<TLanes>(Workspace workspace, float* source, float* target, int points)
        where TLanes : struct, ILanes<TLanes>
    {
        var stepSizes = _stepSizes.Pointer;
        SubtractStep<TLanes> Step(int offset) => new(source + offset, target + offset, stepSizes + offset);
        var last = _layers - 1;
        for (var l = 0; l < last; l++)
        {
            var activations = workspace.Activations[l].Pointer;
            var deltas = workspace.Deltas[l].Pointer;
            TileProduct.Multiply<TLanes, SubtractStep<TLanes>>(
                activations, 1, _strides[l], _gradientRows[l], points,
                deltas, _strides[l + 1], _strides[l + 1], null, Step(_weightOffsets[l]), _strides[l + 1]);
            ColumnSums<TLanes>(deltas, _strides[l + 1], points, workspace.Ones.Pointer, _strides[l + 1], Step(_biasOffsets[l]));
        }

        var outputDeltas = workspace.OutputDeltas.Pointer;
        ColumnSums<TLanes>(workspace.Activations[last].Pointer, _strides[last], points, outputDeltas, _strides[last], Step(_weightOffsets[last]));
        var biasGradient = 0f;
        for (var k = 0; k < points; k++)
        {
            biasGradient += outputDeltas[k];
        }

        var bias = _biasOffsets[last];
        target[bias] = MathF.FusedMultiplyAdd(-stepSizes[bias], biasGradient, source[bias]);
    }

    // For each register of columns j < width: sum over k < points of weights[k] a[k, j], in four chains (an FMA's
    // latency is four of its issue slots), handed to finish at offset j.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnSums<TLanes>(float* a, nint stride, int points, float* weights, int width, SubtractStep<TLanes> finish)
        where TLanes : struct, ILanes<TLanes>
    {
        for (var j = 0; j < width; j += TLanes.Count)
        {
            TLanes s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
            var column = a + j;
            var k = 0;
            for (; k + 3 < points; k += 4)
            {
                s0 = TLanes.MultiplyAdd(TLanes.Broadcast(weights[k]), TLanes.Load(column + (k * stride)), s0);
                s1 = TLanes.MultiplyAdd(TLanes.Broadcast(weights[k + 1]), TLanes.Load(column + ((k + 1) * stride)), s1);
                s2 = TLanes.MultiplyAdd(TLanes.Broadcast(weights[k + 2]), TLanes.Load(column + ((k + 2) * stride)), s2);
                s3 = TLanes.MultiplyAdd(TLanes.Broadcast(weights[k + 3]), TLanes.Load(column + ((k + 3) * stride)), s3);
            }

            for (; k < points; k++)
            {
                s0 = TLanes.MultiplyAdd(TLanes.Broadcast(weights[k]), TLanes.Load(column + (k * stride)), s0);
            }

            finish.Finish(j, TLanes.Add(TLanes.Add(s0, s1), TLanes.Add(s2, s3)));
        }
    }

    private readonly record struct Batch(nint SupportX, nint SupportY, nint QueryX, nint Predictions, int SupportSize, int QuerySize, int Steps);

    /// <summary>
    /// One thread's scratch memory: fast weights, their transpose, every layer's input activations [rows, stride] and
    /// output deltas, the outputs. About 140 KB for 9-40-40-1 and K = 168: it stays in L2.
    /// </summary>
    private sealed class Workspace
    {
        private readonly int _lanes;
        private readonly int[] _sizes;
        private readonly int[] _strides;
        private int _rows;

        public Workspace(FastAdapter adapter)
        {
            _lanes = adapter._lanes;
            _sizes = adapter._sizes;
            _strides = adapter._strides;
            Theta = new AlignedFloats(adapter._parameterCount);
            Transposed = new AlignedFloats(adapter._transposedCount);
            Activations = new AlignedFloats[adapter._layers];
            Deltas = new AlignedFloats[adapter._layers - 1];
            EnsureRows(TileProduct.Rows);
        }

        public AlignedFloats Theta { get; }

        public AlignedFloats Transposed { get; }

        /// <summary>Per layer, its input activations [rows, stride].</summary>
        public AlignedFloats[] Activations { get; }

        /// <summary>Per hidden layer, the deltas of its outputs [rows, next stride].</summary>
        public AlignedFloats[] Deltas { get; }

        public AlignedFloats Outputs { get; private set; } = null!;

        public AlignedFloats OutputDeltas { get; private set; } = null!;

        /// <summary>Ones: the weights of the bias gradients' column sums.</summary>
        public AlignedFloats Ones { get; private set; } = null!;

        /// <summary>Whether <paramref name="adapter"/> lays its network out as this workspace's did (same widths and lanes).</summary>
        public bool Fits(FastAdapter adapter) => adapter._lanes == _lanes && adapter._sizes.AsSpan().SequenceEqual(_sizes);

        public void EnsureRows(int rows)
        {
            if (rows <= _rows)
            {
                return;
            }

            _rows = rows;
            for (var l = 0; l < Activations.Length; l++)
            {
                Activations[l] = new AlignedFloats(rows * _strides[l]);
                if (l < Deltas.Length)
                {
                    Deltas[l] = new AlignedFloats(rows * _strides[l + 1]);
                }
            }

            Outputs = new AlignedFloats(rows);
            OutputDeltas = new AlignedFloats(rows);
            Ones = new AlignedFloats(rows);
            Ones.Span.Fill(1f);
        }
    }
}

/// <summary>
/// Floats in a pinned array whose first element sits on a cache line: the kernels hold raw pointers into it, and a
/// 64-byte load that straddled two lines would cost two.
/// </summary>
internal sealed unsafe class AlignedFloats
{
    /// <summary>Floats per 64-byte cache line.</summary>
    public const int LineFloats = 16;

    private readonly float[] _storage;   // pinned: the pointer stays valid as long as this object lives

    public AlignedFloats(int length)
    {
        _storage = GC.AllocateArray<float>(length + LineFloats, pinned: true);
        var address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage));
        Pointer = (float*)((address + 63) & ~(nint)63);
        Length = length;
    }

    public float* Pointer { get; }

    public int Length { get; }

    public Span<float> Span => new(Pointer, Length);
}
