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
        // Twiddles per power of two (index log2 N): series lengths in one batch vary, so N keeps changing.
        private readonly float[][] _cos = new float[32][];
        private readonly float[][] _sin = new float[32][];
        private readonly Complex32[][] _packed = new Complex32[32][];

        internal (Complex32[] Packed, float[] Cos, float[] Sin) For(int fftLength)
        {
            int level = BitOperations.Log2((uint)fftLength);
            if (_packed[level] is null)
            {
                int half = fftLength / 2;
                var cos = new float[half];
                var sin = new float[half];
                for (int k = 0; k < half; k++)
                {
                    double angle = -2.0 * Math.PI * k / fftLength;
                    cos[k] = (float)Math.Cos(angle);
                    sin[k] = (float)Math.Sin(angle);
                }

                _cos[level] = cos;
                _sin[level] = sin;
                _packed[level] = new Complex32[half];
            }

            return (_packed[level], _cos[level], _sin[level]);
        }
    }

    /// <summary>
    /// Writes |X[k]|^2 for k = 0..N/2 into <paramref name="power"/>, N the next power of two at or above
    /// <paramref name="minimumLength"/> (at least the series length; the series is zero-padded).
    /// The real series is packed as N/2 complex points (even samples real, odd imaginary) so that one half-length
    /// complex transform does the work; MathNet's own real transform runs a full-length complex one.
    /// </summary>
    /// <returns>N, the transform length.</returns>
    public static int Compute(ReadOnlySpan<float> series, int minimumLength, Workspace workspace, float[] power)
    {
        int n = series.Length;
        int fftLength = Math.Max(4, (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(n, minimumLength)));
        int half = fftLength / 2;
        (Complex32[] packed, float[] cosines, float[] sines) = workspace.For(fftLength);
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
            float c = cosines[k];
            float s = sines[k];
            float re = evenRe + (c * oddRe) - (s * oddIm);
            float im = evenIm + (c * oddIm) + (s * oddRe);
            power[k] = (re * re) + (im * im);
        }

        float nyquist = packed[0].Real - packed[0].Imaginary;
        power[half] = nyquist * nyquist;
        return fftLength;
    }
}
