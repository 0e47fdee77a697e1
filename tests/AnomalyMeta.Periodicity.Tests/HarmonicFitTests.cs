using MathNet.Numerics.LinearAlgebra;

namespace AnomalyMeta.Periodicity.Tests;

/// <summary>The harmonic fit that refines long periods, against a least-squares fit written out in full.</summary>
public sealed class HarmonicFitTests
{
    [Theory]
    [InlineData(168, 552)]
    [InlineData(41, 500)]
    [InlineData(97, 97 * 5)]
    public void The_variance_explained_by_the_first_harmonics_is_that_of_a_direct_least_squares_fit(int period, int length)
    {
        var random = new Random(period);
        var z = new float[length];
        for (int t = 0; t < length; t++)
        {
            z[t] = (float)((3 * Math.Sin(2 * Math.PI * t / period)) + Math.Cos(4 * Math.PI * t / period) + random.NextDouble() - 0.5);
        }

        double fitted = HarmonicFit.Explained(z, period, new double[period]);

        Assert.Equal(Direct(z, period), fitted, 1e-6 * fitted);
    }

    /// <summary>b' (X'X)^-1 b with the design matrix X of cos and sin of harmonics 1..3 built point by point.</summary>
    private static double Direct(float[] z, int period)
    {
        const int Size = 2 * HarmonicFit.MaxHarmonics;
        var gram = new double[Size, Size];
        var b = new double[Size];
        var row = new double[Size];
        for (int t = 0; t < z.Length; t++)
        {
            for (int h = 0; h < HarmonicFit.MaxHarmonics; h++)
            {
                row[2 * h] = Math.Cos(2 * Math.PI * (h + 1) * t / period);
                row[(2 * h) + 1] = Math.Sin(2 * Math.PI * (h + 1) * t / period);
            }
            for (int i = 0; i < Size; i++)
            {
                b[i] += z[t] * row[i];
                for (int j = 0; j < Size; j++)
                {
                    gram[i, j] += row[i] * row[j];
                }
            }
        }
        // The explained sum of squares is b' G^-1 b.
        var x = Matrix<double>.Build.DenseOfArray(gram).Solve(Vector<double>.Build.DenseOfArray(b));
        double explained = x.DotProduct(Vector<double>.Build.DenseOfArray(b));
        return explained;
    }
}
