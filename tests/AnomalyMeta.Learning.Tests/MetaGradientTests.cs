using TorchSharp;
using static TorchSharp.torch;

namespace AnomalyMeta.Learning.Tests;

public sealed class MetaGradientTests
{
    // A tiny network and a large inner step, so that the second-order term is a sizeable part of the meta-gradient.
    private static MetaLearnerOptions TinyOptions(MetaAlgorithm algorithm) => new()
    {
        HiddenSizes = [6, 5],
        Algorithm = algorithm,
        InnerSteps = 2,
        InnerLearningRate = 0.1f,
        MetaBatchSize = 3,
        Seed = 4,
    };

    [Theory]
    [InlineData(MetaAlgorithm.Maml)]
    [InlineData(MetaAlgorithm.MetaSgd)]
    public void Second_order_meta_gradient_matches_finite_differences(MetaAlgorithm algorithm)
    {
        using var learner = MetaLearner.Create(TinyOptions(algorithm));
        var batch = Batch();

        var analytic = Gradient(learner, batch);
        var numeric = FiniteDifferences(learner, batch);

        Assert.True(RelativeDifference(analytic, numeric) < 0.01, $"Relative difference {RelativeDifference(analytic, numeric):G3} between autograd and finite differences.");
    }

    [Fact]
    public void First_order_meta_gradient_drops_the_second_order_term()
    {
        using var exact = MetaLearner.Create(TinyOptions(MetaAlgorithm.Maml));
        using var firstOrder = MetaLearner.Create(TinyOptions(MetaAlgorithm.FirstOrderMaml));
        var batch = Batch();

        var numeric = FiniteDifferences(exact, batch);
        var approximate = Gradient(firstOrder, batch);

        // Same initial weights (same seed): the only difference is the missing Hessian term, which the finite
        // differences of the true meta-loss do contain. This shows the test above could fail.
        Assert.True(RelativeDifference(approximate, numeric) > 0.1, $"First-order gradient is within {RelativeDifference(approximate, numeric):G3} of the exact one.");
    }

    private sealed record MetaBatch(float[] SupportX, float[] SupportY, float[] QueryX, float[] QueryY, int Tasks, int K, int Q);

    private static MetaBatch Batch()
    {
        const int Tasks = 3, K = 5, Q = 7;
        var (sx, sy, qx, qy) = TestData.SinusoidTasks(seed: 31, Tasks, K, Q);
        return new MetaBatch(sx, sy, qx, qy, Tasks, K, Q);
    }

    private static double Loss(MetaLearner learner, MetaBatch b)
    {
        using var scope = NewDisposeScope();
        return learner.MetaLoss(b.SupportX, b.SupportY, b.QueryX, b.QueryY, b.Tasks, b.K, b.Q).item<float>();
    }

    private static double[] Gradient(MetaLearner learner, MetaBatch b)
    {
        using var scope = NewDisposeScope();
        var trainable = learner.AllTrainable();
        var loss = learner.MetaLoss(b.SupportX, b.SupportY, b.QueryX, b.QueryY, b.Tasks, b.K, b.Q);
        var gradients = autograd.grad([loss], [.. trainable]);
        var flat = new List<double>();
        foreach (var g in gradients)
        {
            foreach (var v in g.data<float>().ToArray())
            {
                flat.Add(v);
            }
        }

        return [.. flat];
    }

    // Central differences of the meta-loss, one parameter at a time.
    private static double[] FiniteDifferences(MetaLearner learner, MetaBatch b)
    {
        const float Epsilon = 3e-3f;
        var flat = new List<double>();
        foreach (var p in learner.AllTrainable())
        {
            using var scope = NewDisposeScope();
            var values = p.detach().view(-1).data<float>();   // a flat view of the parameter's storage
            for (long i = 0; i < p.numel(); i++)
            {
                var original = values[i];
                values[i] = original + Epsilon;
                var plus = Loss(learner, b);
                values[i] = original - Epsilon;
                var minus = Loss(learner, b);
                values[i] = original;
                flat.Add((plus - minus) / (2 * Epsilon));
            }
        }

        return [.. flat];
    }

    private static double RelativeDifference(double[] a, double[] b)
    {
        double difference = 0, norm = 0;
        for (var i = 0; i < a.Length; i++)
        {
            difference += (a[i] - b[i]) * (a[i] - b[i]);
            norm += b[i] * b[i];
        }

        return Math.Sqrt(difference / norm);
    }
}
