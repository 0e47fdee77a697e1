using System.Runtime.CompilerServices;

namespace AnomalyMeta.Learning;

/// <summary>What <see cref="TileProduct.Multiply"/> does with each finished register of the product.</summary>
internal interface ITileFinish<TLanes>
    where TLanes : struct, ILanes<TLanes>
{
    /// <summary><paramref name="sum"/> holds the product's lanes at element <paramref name="offset"/> of the output layout.</summary>
    void Finish(nint offset, TLanes sum);
}

/// <summary>Output = ReLU(sum): a hidden layer's forward pass.</summary>
internal readonly unsafe struct StoreRelu<TLanes>(float* output) : ITileFinish<TLanes>
    where TLanes : struct, ILanes<TLanes>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Finish(nint offset, TLanes sum) => TLanes.Relu(sum).Store(output + offset);
}

/// <summary>Output = sum where the gate (a ReLU's output, same layout) is above zero: deltas sent down through a ReLU.</summary>
internal readonly unsafe struct StoreWherePositive<TLanes>(float* output, float* gate) : ITileFinish<TLanes>
    where TLanes : struct, ILanes<TLanes>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Finish(nint offset, TLanes sum) => TLanes.WherePositive(TLanes.Load(gate + offset), sum).Store(output + offset);
}

/// <summary>
/// Target = source - step sizes * sum (same layout; target may be source): an SGD step with the gradient straight from
/// the registers.
/// </summary>
internal readonly unsafe struct SubtractStep<TLanes>(float* source, float* target, float* stepSizes) : ITileFinish<TLanes>
    where TLanes : struct, ILanes<TLanes>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Finish(nint offset, TLanes sum) =>
        TLanes.NegatedMultiplyAdd(TLanes.Load(stepSizes + offset), sum, TLanes.Load(source + offset)).Store(target + offset);
}

/// <summary>
/// Small matrix products held in registers: C = A B (+ a bias row), each register of C finished by an
/// <see cref="ITileFinish{TLanes}"/>. Tiles are 8 rows by 3 registers with AVX-512's 32 registers (24 accumulators:
/// per inner step, 3 loads of B and 8 broadcasts of A feed 24 FMAs), and 4 rows by 3 otherwise and for a remainder of
/// 4 rows (12 accumulators, still more than the 8 FMAs two units keep in flight). Either way the FMA units, not the
/// loads, set the pace. A is addressed by two strides, so the same code multiplies by A or by its transpose.
/// </summary>
internal static unsafe class TileProduct
{
    /// <summary>Rows per tile; callers pad the row count to a multiple of it.</summary>
    public const int Rows = 4;

    /// <summary>
    /// For r &lt; <paramref name="rows"/> (a multiple of <see cref="Rows"/>) and columns j &lt; <paramref name="width"/>
    /// (a multiple of the lane count): C[r, j] = init[j] + sum over i &lt; inner of A[r, i] B[i, j], with
    /// A[r, i] at a[r * aRowStride + i * aInnerStride], B[i, j] at b[i * bRowStride + j], init null for zero,
    /// and C[r, j] handed over at offset r * outputRowStride + j.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<TLanes, TFinish>(
        float* a, nint aRowStride, nint aInnerStride, int rows, int inner, float* b, nint bRowStride, int width, float* init, TFinish finish, nint outputRowStride)
        where TLanes : struct, ILanes<TLanes>
        where TFinish : struct, ITileFinish<TLanes>
    {
        var lanes = TLanes.Count;
        var r = 0;
        if (TLanes.Count == 16)
        {
            // AVX-512 has 32 registers: 8 rows by 3 (24 accumulators) load each register of B once for twice the
            // FMAs, and stream the deltas from L2 half as often in the weight gradients.
            for (; r + (2 * Rows) <= rows; r += 2 * Rows)
            {
                var j = 0;
                for (; j + (3 * lanes) <= width; j += 3 * lanes)
                {
                    Tile8x3<TLanes, TFinish>(a + (r * aRowStride), aRowStride, aInnerStride, inner, b + j, bRowStride, init == null ? null : init + j, finish, (r * outputRowStride) + j, outputRowStride);
                }

                for (; j < width; j += lanes)
                {
                    Tile4x1<TLanes, TFinish>(a + (r * aRowStride), aRowStride, aInnerStride, inner, b + j, bRowStride, init == null ? null : init + j, finish, (r * outputRowStride) + j, outputRowStride);
                    Tile4x1<TLanes, TFinish>(a + ((r + Rows) * aRowStride), aRowStride, aInnerStride, inner, b + j, bRowStride, init == null ? null : init + j, finish, ((r + Rows) * outputRowStride) + j, outputRowStride);
                }
            }
        }

        for (; r < rows; r += Rows)
        {
            var j = 0;
            for (; j + (3 * lanes) <= width; j += 3 * lanes)
            {
                Tile4x3<TLanes, TFinish>(a + (r * aRowStride), aRowStride, aInnerStride, inner, b + j, bRowStride, init == null ? null : init + j, finish, (r * outputRowStride) + j, outputRowStride);
            }

            for (; j < width; j += lanes)
            {
                Tile4x1<TLanes, TFinish>(a + (r * aRowStride), aRowStride, aInnerStride, inner, b + j, bRowStride, init == null ? null : init + j, finish, (r * outputRowStride) + j, outputRowStride);
            }
        }
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8x3<TLanes, TFinish>(
        float* a, nint aRowStride, nint aInnerStride, int inner, float* b, nint bRowStride, float* init, TFinish finish, nint offset, nint outputRowStride)
        where TLanes : struct, ILanes<TLanes>
        where TFinish : struct, ITileFinish<TLanes>
    {
        var lanes = TLanes.Count;
        TLanes c00, c01, c02;
        if (init == null)
        {
            c00 = c01 = c02 = TLanes.Zero;
        }
        else
        {
            c00 = TLanes.Load(init);
            c01 = TLanes.Load(init + lanes);
            c02 = TLanes.Load(init + (2 * lanes));
        }
        TLanes c10 = c00, c11 = c01, c12 = c02;
        TLanes c20 = c00, c21 = c01, c22 = c02;
        TLanes c30 = c00, c31 = c01, c32 = c02;
        TLanes c40 = c00, c41 = c01, c42 = c02;
        TLanes c50 = c00, c51 = c01, c52 = c02;
        TLanes c60 = c00, c61 = c01, c62 = c02;
        TLanes c70 = c00, c71 = c01, c72 = c02;
        nint row1 = aRowStride, row2 = 2 * aRowStride, row3 = 3 * aRowStride, row4 = 4 * aRowStride, row5 = 5 * aRowStride, row6 = 6 * aRowStride, row7 = 7 * aRowStride;
        for (var i = 0; i < inner; i++)
        {
            var b0 = TLanes.Load(b);
            var b1 = TLanes.Load(b + lanes);
            var b2 = TLanes.Load(b + (2 * lanes));
            var x = TLanes.Broadcast(*a);
            c00 = TLanes.MultiplyAdd(b0, x, c00);
            c01 = TLanes.MultiplyAdd(b1, x, c01);
            c02 = TLanes.MultiplyAdd(b2, x, c02);
            x = TLanes.Broadcast(a[row1]);
            c10 = TLanes.MultiplyAdd(b0, x, c10);
            c11 = TLanes.MultiplyAdd(b1, x, c11);
            c12 = TLanes.MultiplyAdd(b2, x, c12);
            x = TLanes.Broadcast(a[row2]);
            c20 = TLanes.MultiplyAdd(b0, x, c20);
            c21 = TLanes.MultiplyAdd(b1, x, c21);
            c22 = TLanes.MultiplyAdd(b2, x, c22);
            x = TLanes.Broadcast(a[row3]);
            c30 = TLanes.MultiplyAdd(b0, x, c30);
            c31 = TLanes.MultiplyAdd(b1, x, c31);
            c32 = TLanes.MultiplyAdd(b2, x, c32);
            x = TLanes.Broadcast(a[row4]);
            c40 = TLanes.MultiplyAdd(b0, x, c40);
            c41 = TLanes.MultiplyAdd(b1, x, c41);
            c42 = TLanes.MultiplyAdd(b2, x, c42);
            x = TLanes.Broadcast(a[row5]);
            c50 = TLanes.MultiplyAdd(b0, x, c50);
            c51 = TLanes.MultiplyAdd(b1, x, c51);
            c52 = TLanes.MultiplyAdd(b2, x, c52);
            x = TLanes.Broadcast(a[row6]);
            c60 = TLanes.MultiplyAdd(b0, x, c60);
            c61 = TLanes.MultiplyAdd(b1, x, c61);
            c62 = TLanes.MultiplyAdd(b2, x, c62);
            x = TLanes.Broadcast(a[row7]);
            c70 = TLanes.MultiplyAdd(b0, x, c70);
            c71 = TLanes.MultiplyAdd(b1, x, c71);
            c72 = TLanes.MultiplyAdd(b2, x, c72);
            a += aInnerStride;
            b += bRowStride;
        }

        finish.Finish(offset, c00);
        finish.Finish(offset + lanes, c01);
        finish.Finish(offset + (2 * lanes), c02);
        offset += outputRowStride;
        finish.Finish(offset, c10);
        finish.Finish(offset + lanes, c11);
        finish.Finish(offset + (2 * lanes), c12);
        offset += outputRowStride;
        finish.Finish(offset, c20);
        finish.Finish(offset + lanes, c21);
        finish.Finish(offset + (2 * lanes), c22);
        offset += outputRowStride;
        finish.Finish(offset, c30);
        finish.Finish(offset + lanes, c31);
        finish.Finish(offset + (2 * lanes), c32);
        offset += outputRowStride;
        finish.Finish(offset, c40);
        finish.Finish(offset + lanes, c41);
        finish.Finish(offset + (2 * lanes), c42);
        offset += outputRowStride;
        finish.Finish(offset, c50);
        finish.Finish(offset + lanes, c51);
        finish.Finish(offset + (2 * lanes), c52);
        offset += outputRowStride;
        finish.Finish(offset, c60);
        finish.Finish(offset + lanes, c61);
        finish.Finish(offset + (2 * lanes), c62);
        offset += outputRowStride;
        finish.Finish(offset, c70);
        finish.Finish(offset + lanes, c71);
        finish.Finish(offset + (2 * lanes), c72);
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x3<TLanes, TFinish>(
        float* a, nint aRowStride, nint aInnerStride, int inner, float* b, nint bRowStride, float* init, TFinish finish, nint offset, nint outputRowStride)
        where TLanes : struct, ILanes<TLanes>
        where TFinish : struct, ITileFinish<TLanes>
    {
        var lanes = TLanes.Count;
        TLanes c00, c01, c02;
        if (init == null)
        {
            c00 = c01 = c02 = TLanes.Zero;
        }
        else
        {
            c00 = TLanes.Load(init);
            c01 = TLanes.Load(init + lanes);
            c02 = TLanes.Load(init + (2 * lanes));
        }

        TLanes c10 = c00, c11 = c01, c12 = c02;
        TLanes c20 = c00, c21 = c01, c22 = c02;
        TLanes c30 = c00, c31 = c01, c32 = c02;
        nint row1 = aRowStride, row2 = 2 * aRowStride, row3 = 3 * aRowStride;
        for (var i = 0; i < inner; i++)
        {
            var b0 = TLanes.Load(b);
            var b1 = TLanes.Load(b + lanes);
            var b2 = TLanes.Load(b + (2 * lanes));
            var x = TLanes.Broadcast(*a);
            c00 = TLanes.MultiplyAdd(b0, x, c00);
            c01 = TLanes.MultiplyAdd(b1, x, c01);
            c02 = TLanes.MultiplyAdd(b2, x, c02);
            x = TLanes.Broadcast(a[row1]);
            c10 = TLanes.MultiplyAdd(b0, x, c10);
            c11 = TLanes.MultiplyAdd(b1, x, c11);
            c12 = TLanes.MultiplyAdd(b2, x, c12);
            x = TLanes.Broadcast(a[row2]);
            c20 = TLanes.MultiplyAdd(b0, x, c20);
            c21 = TLanes.MultiplyAdd(b1, x, c21);
            c22 = TLanes.MultiplyAdd(b2, x, c22);
            x = TLanes.Broadcast(a[row3]);
            c30 = TLanes.MultiplyAdd(b0, x, c30);
            c31 = TLanes.MultiplyAdd(b1, x, c31);
            c32 = TLanes.MultiplyAdd(b2, x, c32);
            a += aInnerStride;
            b += bRowStride;
        }

        finish.Finish(offset, c00);
        finish.Finish(offset + lanes, c01);
        finish.Finish(offset + (2 * lanes), c02);
        offset += outputRowStride;
        finish.Finish(offset, c10);
        finish.Finish(offset + lanes, c11);
        finish.Finish(offset + (2 * lanes), c12);
        offset += outputRowStride;
        finish.Finish(offset, c20);
        finish.Finish(offset + lanes, c21);
        finish.Finish(offset + (2 * lanes), c22);
        offset += outputRowStride;
        finish.Finish(offset, c30);
        finish.Finish(offset + lanes, c31);
        finish.Finish(offset + (2 * lanes), c32);
    }

    // The columns left over after the 3-register tiles (widths that are not a multiple of 3 registers).
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1<TLanes, TFinish>(
        float* a, nint aRowStride, nint aInnerStride, int inner, float* b, nint bRowStride, float* init, TFinish finish, nint offset, nint outputRowStride)
        where TLanes : struct, ILanes<TLanes>
        where TFinish : struct, ITileFinish<TLanes>
    {
        var c0 = init == null ? TLanes.Zero : TLanes.Load(init);
        TLanes c1 = c0, c2 = c0, c3 = c0;
        nint row1 = aRowStride, row2 = 2 * aRowStride, row3 = 3 * aRowStride;
        for (var i = 0; i < inner; i++)
        {
            var b0 = TLanes.Load(b);
            c0 = TLanes.MultiplyAdd(TLanes.Broadcast(*a), b0, c0);
            c1 = TLanes.MultiplyAdd(TLanes.Broadcast(a[row1]), b0, c1);
            c2 = TLanes.MultiplyAdd(TLanes.Broadcast(a[row2]), b0, c2);
            c3 = TLanes.MultiplyAdd(TLanes.Broadcast(a[row3]), b0, c3);
            a += aInnerStride;
            b += bRowStride;
        }

        finish.Finish(offset, c0);
        finish.Finish(offset + outputRowStride, c1);
        finish.Finish(offset + (2 * outputRowStride), c2);
        finish.Finish(offset + (3 * outputRowStride), c3);
    }
}
