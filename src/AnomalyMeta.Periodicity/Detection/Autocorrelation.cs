using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AnomalyMeta.Periodicity;

/// <summary>
/// Lagged sums of products of a series with itself, every lag from 0 to a maximum at once: sums[lag] = Σ z[t] z[t + lag]
/// (exact, no circular wrap).
/// </summary>
/// <remarks>
/// The lags run along the vector lanes: for each point z[t], one broadcast of it multiplies the points that follow
/// (t + lag for a block of lags), so each lag's sum is an accumulator that stays in a register over the whole series.
/// One dot product per lag (what the detector did before) reloads the series for every lag and pays the set-up and
/// the final horizontal sum of each call. On the demo fleet's series (528 points, lags to 177) the autocorrelation
/// went from 14.5 % of `bench period`'s samples to 8.3 % (of a total that fell by a sixth).
/// </remarks>
internal static class Autocorrelation
{
    // Accumulators per block: 8 registers of lags stay in registers beside the broadcast and the loads.
    private const int Registers = 8;

    // Lags per block: 8 registers of 8 lanes.
    private const int Width = Registers * 8;

    /// <summary>The zero-padded copy <see cref="Sums"/> needs: the series, then room for one block of lags.</summary>
    public static int PaddedLength(int length) => length + Width;

    /// <summary>
    /// Writes Σ_t z[t] z[t + lag] for lag = 0..<paramref name="maxLag"/> into <paramref name="sums"/>.
    /// <paramref name="padded"/> is scratch of at least <see cref="PaddedLength"/> floats.
    /// </summary>
    public static void Sums(ReadOnlySpan<float> z, int maxLag, Span<float> padded, Span<float> sums)
    {
        int n = z.Length;
        ArgumentOutOfRangeException.ThrowIfNegative(maxLag);
        if (padded.Length < PaddedLength(n) || sums.Length <= maxLag)
        {
            throw new ArgumentException($"Autocorrelation of {n} points to lag {maxLag} needs {PaddedLength(n)} floats of padding and {maxLag + 1} of output.");
        }

        // Past the end the series is zero, so lags beyond it and block tails add nothing.
        z.CopyTo(padded);
        padded[n..PaddedLength(n)].Clear();
        int lag = 0;
        for (; lag + Width <= maxLag + 1; lag += Width)
        {
            Block(padded, n, lag, sums.Slice(lag, Width));
        }

        if (lag <= maxLag)
        {
            Span<float> tail = stackalloc float[Width];
            Block(padded, n, lag, tail);
            tail[..(maxLag + 1 - lag)].CopyTo(sums[lag..]);
        }
    }

    /// <summary>The sums of 64 consecutive lags from <paramref name="firstLag"/>: 8 registers of 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(ReadOnlySpan<float> padded, int n, int firstLag, Span<float> sums)
    {
        ref float start = ref MemoryMarshal.GetReference(padded);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> a4 = default, a5 = default, a6 = default, a7 = default;
        // Only points with t + firstLag < n meet a non-zero partner.
        int last = n - firstLag;
        for (int t = 0; t < last; t++)
        {
            var x = Vector256.Create(Unsafe.Add(ref start, t));
            ref float partner = ref Unsafe.Add(ref start, t + firstLag);
            a0 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref partner, 0), a0);
            a1 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref partner, 8), a1);
            a2 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref partner, 16), a2);
            a3 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref partner, 24), a3);
            a4 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref partner, 32), a4);
            a5 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref partner, 40), a5);
            a6 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref partner, 48), a6);
            a7 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref partner, 56), a7);
        }

        ref float output = ref MemoryMarshal.GetReference(sums);
        a0.StoreUnsafe(ref output, 0);
        a1.StoreUnsafe(ref output, 8);
        a2.StoreUnsafe(ref output, 16);
        a3.StoreUnsafe(ref output, 24);
        a4.StoreUnsafe(ref output, 32);
        a5.StoreUnsafe(ref output, 40);
        a6.StoreUnsafe(ref output, 48);
        a7.StoreUnsafe(ref output, 56);
    }
}
