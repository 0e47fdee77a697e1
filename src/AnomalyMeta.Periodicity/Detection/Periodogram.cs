using System.Numerics;
using MathNet.Numerics;
using MathNet.Numerics.IntegralTransforms;

namespace AnomalyMeta.Periodicity;

/// <summary>Power spectrum of a real series with MathNet's FFT, zero-padded to a power of two.</summary>
internal static class Periodogram
{
    /// <summary>Reusable buffers and twiddles for one thread.</summary>
    public sealed class Workspace
    {
        internal Complex32[] Packed = [];
        internal float[] Cos = [];
        internal float[] Sin = [];
        internal int TwiddleLength;
    }

    /// <summary>
    /// Writes |X[k]|^2 for k = 0..N/2 into <paramref name="power"/>, N the next power of two at or above the length.
    /// The real series is packed as N/2 complex points (even samples real, odd imaginary) so that one half-length
    /// complex transform does the work; MathNet's own real transform runs a full-length complex one.
    /// </summary>
    /// <returns>N, the transform length.</returns>
    public static int Compute(ReadOnlySpan<float> series, Workspace workspace, float[] power)
    {
        int n = series.Length;
        int fftLength = Math.Max(4, (int)BitOperations.RoundUpToPowerOf2((uint)n));
        int half = fftLength / 2;
        if (workspace.Packed.Length != half)
        {
            workspace.Packed = new Complex32[half];
        }

        if (workspace.TwiddleLength != fftLength)
        {
            workspace.Cos = new float[half];
            workspace.Sin = new float[half];
            for (int k = 0; k < half; k++)
            {
                double angle = -2.0 * Math.PI * k / fftLength;
                workspace.Cos[k] = (float)Math.Cos(angle);
                workspace.Sin[k] = (float)Math.Sin(angle);
            }

            workspace.TwiddleLength = fftLength;
        }

        Complex32[] packed = workspace.Packed;
        for (int i = 0; i < half; i++)
        {
            int even = 2 * i;
            float re = even < n ? series[even] : 0f;
            float im = even + 1 < n ? series[even + 1] : 0f;
            packed[i] = new Complex32(re, im);
        }

        Fourier.Forward(packed, FourierOptions.NoScaling);

        // Untangle: E[k] = (Z[k] + conj Z[M-k]) / 2, O[k] = (Z[k] - conj Z[M-k]) / 2i, X[k] = E[k] + W^k O[k].
        power[0] = 0f;
        for (int k = 1; k < half; k++)
        {
            Complex32 a = packed[k];
            Complex32 b = packed[half - k];
            float evenRe = 0.5f * (a.Real + b.Real);
            float evenIm = 0.5f * (a.Imaginary - b.Imaginary);
            float oddRe = 0.5f * (a.Imaginary + b.Imaginary);
            float oddIm = -0.5f * (a.Real - b.Real);
            float c = workspace.Cos[k];
            float s = workspace.Sin[k];
            float re = evenRe + (c * oddRe) - (s * oddIm);
            float im = evenIm + (c * oddIm) + (s * oddRe);
            power[k] = (re * re) + (im * im);
        }

        float nyquist = packed[0].Real - packed[0].Imaginary;
        power[half] = nyquist * nyquist;
        return fftLength;
    }
}
