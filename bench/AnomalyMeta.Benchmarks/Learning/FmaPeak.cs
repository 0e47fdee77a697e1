using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AnomalyMeta.Benchmarks;

/// <summary>
/// The single-precision FLOP/s this machine reaches in practice: twelve independent fused multiply-add chains per
/// thread, on the widest vector the JIT accelerates (AVX-512 where present), on every benchmark thread at once. The
/// adapter's share is reported against this measured peak as well as against the nominal ceiling, because turbo
/// clocks and hypervisor scheduling make the nominal figure a guess on a VM.
/// </summary>
public static class FmaPeak
{
    // Twelve chains cover the FMA latency (4 cycles) on two ports with room to spare.
    private const int Chains = 12;

    /// <summary>Lanes of the widest accelerated float vector: 16 with AVX-512, 8 with AVX2.</summary>
    public static int VectorWidth => Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256<float>.Count;

    /// <summary>Runs the chains on <paramref name="threads"/> threads for about <paramref name="seconds"/>; GFLOP/s.</summary>
    public static double MeasureGflops(int threads, double seconds = 1.0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        // Calibrate the iteration count on one short run, then time all threads together.
        Run(1_000_000);
        var clock = Stopwatch.StartNew();
        Run(10_000_000);
        long iterations = Math.Max(1_000_000, (long)(10_000_000 * seconds / clock.Elapsed.TotalSeconds));
        clock.Restart();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => Run(iterations));
        double elapsed = clock.Elapsed.TotalSeconds;
        return threads * iterations * Chains * VectorWidth * 2.0 / elapsed / 1e9;
    }

    private static float Run(long iterations) => Vector512.IsHardwareAccelerated ? Run512(iterations) : Run256(iterations);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run512(long iterations)
    {
        var m = Vector512.Create(0.999999f);
        var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = c, a1 = c, a2 = c, a3 = c, a4 = c, a5 = c, a6 = c, a7 = c, a8 = c, a9 = c, a10 = c, a11 = c;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c);
            a1 = Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = Vector512.FusedMultiplyAdd(a2, m, c);
            a3 = Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = Vector512.FusedMultiplyAdd(a4, m, c);
            a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c);
            a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            a8 = Vector512.FusedMultiplyAdd(a8, m, c);
            a9 = Vector512.FusedMultiplyAdd(a9, m, c);
            a10 = Vector512.FusedMultiplyAdd(a10, m, c);
            a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }

        // The sum keeps the chains alive: the JIT may not drop them.
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).GetElement(0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run256(long iterations)
    {
        var m = Vector256.Create(0.999999f);
        var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = c, a1 = c, a2 = c, a3 = c, a4 = c, a5 = c, a6 = c, a7 = c, a8 = c, a9 = c, a10 = c, a11 = c;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c);
            a1 = Vector256.FusedMultiplyAdd(a1, m, c);
            a2 = Vector256.FusedMultiplyAdd(a2, m, c);
            a3 = Vector256.FusedMultiplyAdd(a3, m, c);
            a4 = Vector256.FusedMultiplyAdd(a4, m, c);
            a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c);
            a7 = Vector256.FusedMultiplyAdd(a7, m, c);
            a8 = Vector256.FusedMultiplyAdd(a8, m, c);
            a9 = Vector256.FusedMultiplyAdd(a9, m, c);
            a10 = Vector256.FusedMultiplyAdd(a10, m, c);
            a11 = Vector256.FusedMultiplyAdd(a11, m, c);
        }

        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).GetElement(0);
    }
}
