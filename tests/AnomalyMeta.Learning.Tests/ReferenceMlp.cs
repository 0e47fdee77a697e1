namespace AnomalyMeta.Learning.Tests;

/// <summary>
/// Straightforward double-precision adaptation (no vectors, no tensors) that the fast paths are checked against.
/// </summary>
internal static class ReferenceMlp
{
    public static double[] AdaptAndPredict(MetaParameters parameters, int count, int supportSize, float[] supportX, float[] supportY, int querySize, float[] queryX, int steps)
    {
        var sizes = parameters.LayerSizes;
        var layers = sizes.Count - 1;
        var inputs = sizes[0];
        var predictions = new double[count * querySize];
        for (var s = 0; s < count; s++)
        {
            var w = new double[layers][];
            var b = new double[layers][];
            for (var l = 0; l < layers; l++)
            {
                w[l] = Array.ConvertAll(parameters.Weights[l], v => (double)v);
                b[l] = Array.ConvertAll(parameters.Biases[l], v => (double)v);
            }

            for (var step = 0; step < steps; step++)
            {
                var gw = new double[layers][];
                var gb = new double[layers][];
                for (var l = 0; l < layers; l++)
                {
                    gw[l] = new double[w[l].Length];
                    gb[l] = new double[b[l].Length];
                }

                for (var k = 0; k < supportSize; k++)
                {
                    var x = Input(parameters, supportX, ((s * supportSize) + k) * inputs);
                    var acts = Forward(sizes, w, b, x);
                    var delta = new[] { 2.0 * (acts[layers][0] - supportY[(s * supportSize) + k]) / supportSize };
                    for (var l = layers - 1; l >= 0; l--)
                    {
                        int n = sizes[l], m = sizes[l + 1];
                        var previous = new double[n];
                        for (var i = 0; i < n; i++)
                        {
                            for (var j = 0; j < m; j++)
                            {
                                gw[l][(i * m) + j] += acts[l][i] * delta[j];
                                previous[i] += w[l][(i * m) + j] * delta[j];
                            }

                            previous[i] = acts[l][i] > 0 ? previous[i] : 0;
                        }

                        for (var j = 0; j < m; j++)
                        {
                            gb[l][j] += delta[j];
                        }

                        delta = previous;
                    }
                }

                for (var l = 0; l < layers; l++)
                {
                    for (var i = 0; i < w[l].Length; i++)
                    {
                        w[l][i] -= (parameters.HasStepSizes ? parameters.WeightStepSizes![l][i] : parameters.InnerLearningRate) * gw[l][i];
                    }

                    for (var i = 0; i < b[l].Length; i++)
                    {
                        b[l][i] -= (parameters.HasStepSizes ? parameters.BiasStepSizes![l][i] : parameters.InnerLearningRate) * gb[l][i];
                    }
                }
            }

            for (var q = 0; q < querySize; q++)
            {
                var x = Input(parameters, queryX, ((s * querySize) + q) * inputs);
                predictions[(s * querySize) + q] = Forward(sizes, w, b, x)[layers][0];
            }
        }

        return predictions;
    }

    private static double[] Input(MetaParameters parameters, float[] x, int offset)
    {
        var inputs = parameters.InputSize;
        var result = new double[inputs];
        for (var i = 0; i < inputs; i++)
        {
            result[i] = (x[offset + i] - (double)parameters.InputNormalization.Mean[i]) / parameters.InputNormalization.Scale[i];
        }

        return result;
    }

    // acts[l] is the input of layer l; acts[layers] the output.
    private static double[][] Forward(IReadOnlyList<int> sizes, double[][] w, double[][] b, double[] x)
    {
        var layers = sizes.Count - 1;
        var acts = new double[layers + 1][];
        acts[0] = x;
        for (var l = 0; l < layers; l++)
        {
            int n = sizes[l], m = sizes[l + 1];
            var z = new double[m];
            for (var j = 0; j < m; j++)
            {
                z[j] = b[l][j];
                for (var i = 0; i < n; i++)
                {
                    z[j] += acts[l][i] * w[l][(i * m) + j];
                }

                if (l < layers - 1)
                {
                    z[j] = Math.Max(z[j], 0);
                }
            }

            acts[l + 1] = z;
        }

        return acts;
    }
}

/// <summary>Random tasks and parameters from fixed seeds.</summary>
internal static class TestData
{
    public static (float[] SupportX, float[] SupportY, float[] QueryX, float[] QueryY) SinusoidTasks(int seed, int count, int supportSize, int querySize, bool oracle = false)
    {
        var sampler = new Benchmarks.SinusoidTaskSampler(oracle);
        var inputs = sampler.InputSize;
        var sx = new float[count * supportSize * inputs];
        var sy = new float[count * supportSize];
        var qx = new float[count * querySize * inputs];
        var qy = new float[count * querySize];
        sampler.Sample(new Random(seed), count, supportSize, querySize, sx, sy, qx, qy);
        return (sx, sy, qx, qy);
    }

    /// <summary>A learner's parameters with random Meta-SGD-style step sizes around <paramref name="stepSize"/>.</summary>
    public static MetaParameters WithRandomStepSizes(MetaParameters parameters, int seed, float stepSize)
    {
        var random = new Random(seed);
        float[] Draw(int n)
        {
            var values = new float[n];
            for (var i = 0; i < n; i++)
            {
                values[i] = stepSize * (0.5f + random.NextSingle());
            }

            return values;
        }

        var weightSteps = new float[parameters.Weights.Count][];
        var biasSteps = new float[parameters.Weights.Count][];
        for (var l = 0; l < weightSteps.Length; l++)
        {
            weightSteps[l] = Draw(parameters.Weights[l].Length);
            biasSteps[l] = Draw(parameters.Biases[l].Length);
        }

        return parameters with { WeightStepSizes = weightSteps, BiasStepSizes = biasSteps };
    }

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var scale = Math.Max(1.0, Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * scale, $"Element {i}: expected {expected[i]}, got {actual[i]} (tolerance {tolerance * scale}).");
        }
    }
}
