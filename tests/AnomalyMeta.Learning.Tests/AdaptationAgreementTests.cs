using AnomalyMeta.Benchmarks;
using TorchSharp;

namespace AnomalyMeta.Learning.Tests;

public sealed class AdaptationAgreementTests
{
    public static TheoryData<int[], bool> Shapes => new()
    {
        { [40, 40], false },
        { [40, 40], true },
        { [40, 80, 40], true },   // three hidden layers of multiples of 40: the paired passes through every layer
        { [5, 9, 3], false },   // widths that are not multiples of the vector length exercise the scalar tails
        { [5, 9, 3], true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fast_adapter_matches_a_double_precision_reference(int[] hidden, bool metaSgd)
    {
        var parameters = Parameters(hidden, inputSize: 1, metaSgd);
        const int Count = 70, K = 11, Q = 13, Steps = 3;
        var (sx, sy, qx, _) = TestData.SinusoidTasks(seed: 5, Count, K, Q);

        var expected = ReferenceMlp.AdaptAndPredict(parameters, Count, K, sx, sy, Q, qx, Steps);
        var actual = new float[Count * Q];
        new FastAdapter(parameters).AdaptAndPredict(Count, K, sx, sy, Q, qx, Steps, actual);

        TestData.AssertClose(expected, actual, 1e-4);
    }

    [Fact]
    public void Fast_adapter_applies_the_input_normalisation_of_the_parameters()
    {
        using var learner = MetaLearner.Create(new MetaLearnerOptions { InputSize = 3, HiddenSizes = [8, 8], InputNormalization = SinusoidTaskSampler.OracleNormalization, Seed = 3 });
        var parameters = learner.ExportParameters();
        const int Count = 20, K = 6, Q = 4, Steps = 2;
        var (sx, sy, qx, _) = TestData.SinusoidTasks(seed: 9, Count, K, Q, oracle: true);

        var expected = ReferenceMlp.AdaptAndPredict(parameters, Count, K, sx, sy, Q, qx, Steps);
        var fast = new float[Count * Q];
        new FastAdapter(parameters).AdaptAndPredict(Count, K, sx, sy, Q, qx, Steps, fast);
        var autograd = learner.AdaptAndPredictWithAutograd(Count, K, sx, sy, Q, qx, Steps);

        TestData.AssertClose(expected, fast, 1e-4);
        TestData.AssertClose(expected, autograd, 1e-4);
    }

    [Fact]
    public void Batched_adapter_with_several_inputs_normalisation_and_reused_buffers_matches_the_reference()
    {
        // Three inputs keep the first layer on bmm (one input takes the broadcast path); task counts 3, 20, 3 make the
        // adapter grow its fast-weight buffers and then use part of them.
        using var learner = MetaLearner.Create(new MetaLearnerOptions { InputSize = 3, HiddenSizes = [8, 8], InputNormalization = SinusoidTaskSampler.OracleNormalization, Seed = 3 });
        var parameters = TestData.WithRandomStepSizes(learner.ExportParameters(), seed: 4, stepSize: 0.02f);
        using var adapter = new BatchedAdapter(parameters);
        foreach (var (count, seed) in new[] { (3, 31), (20, 32), (3, 33) })
        {
            const int K = 6, Q = 4, Steps = 3;
            var (sx, sy, qx, _) = TestData.SinusoidTasks(seed, count, K, Q, oracle: true);

            var expected = ReferenceMlp.AdaptAndPredict(parameters, count, K, sx, sy, Q, qx, Steps);
            var batched = new float[count * Q];
            adapter.AdaptAndPredict(count, K, sx, sy, Q, qx, Steps, batched);

            TestData.AssertClose(expected, batched, 1e-4);
        }
    }

    [Fact]
    public void Batched_adaptation_equals_one_task_at_a_time()
    {
        var parameters = Parameters([40, 40], inputSize: 1, metaSgd: false);
        const int Count = 37, K = 24, Q = 24, Steps = 5;
        var (sx, sy, qx, _) = TestData.SinusoidTasks(seed: 11, Count, K, Q);
        using var adapter = new BatchedAdapter(parameters) { BatchSize = 16 };   // 16 + 16 + 5: a ragged last batch

        var batched = new float[Count * Q];
        adapter.AdaptAndPredict(Count, K, sx, sy, Q, qx, Steps, batched);
        var single = new float[Count * Q];
        for (var t = 0; t < Count; t++)
        {
            adapter.AdaptAndPredict(1, K, sx.AsSpan(t * K, K), sy.AsSpan(t * K, K), Q, qx.AsSpan(t * Q, Q), Steps, single.AsSpan(t * Q, Q));
        }

        for (var i = 0; i < batched.Length; i++)
        {
            Assert.Equal(single[i], batched[i], 1e-5f);
        }
    }

    [Theory]
    [InlineData(MetaAlgorithm.Maml)]
    [InlineData(MetaAlgorithm.MetaSgd)]
    public void Fast_batched_and_autograd_adaptation_agree(MetaAlgorithm algorithm)
    {
        using var learner = MetaLearner.Create(new MetaLearnerOptions { Algorithm = algorithm, InnerLearningRate = 0.02f, Seed = 21 });
        // A few meta-updates so that Meta-SGD's step sizes differ per parameter.
        learner.Train(new SinusoidTaskSampler(), iterations: 20, supportSize: 10, querySize: 10);
        var parameters = learner.ExportParameters();
        const int Count = 50, K = 10, Q = 30, Steps = 10;
        var (sx, sy, qx, _) = TestData.SinusoidTasks(seed: 23, Count, K, Q);

        var reference = ReferenceMlp.AdaptAndPredict(parameters, Count, K, sx, sy, Q, qx, Steps);
        var fast = new float[Count * Q];
        new FastAdapter(parameters).AdaptAndPredict(Count, K, sx, sy, Q, qx, Steps, fast);
        var batched = new float[Count * Q];
        using (var adapter = new BatchedAdapter(parameters))
        {
            adapter.AdaptAndPredict(Count, K, sx, sy, Q, qx, Steps, batched);
        }

        var autograd = learner.AdaptAndPredictWithAutograd(Count, K, sx, sy, Q, qx, Steps);

        TestData.AssertClose(reference, fast, 1e-4);
        TestData.AssertClose(reference, batched, 1e-4);
        TestData.AssertClose(reference, autograd, 1e-4);
    }

    [Fact]
    public void A_batch_leaves_no_live_tensor()
    {
        var parameters = TestData.WithRandomStepSizes(Parameters([40, 40], 1, metaSgd: false), seed: 2, stepSize: 0.01f);
        const int Count = 300, K = 24, Q = 24, Steps = 5;
        var (sx, sy, qx, _) = TestData.SinusoidTasks(seed: 13, Count, K, Q);
        var predictions = new float[Count * Q];
        using var adapter = new BatchedAdapter(parameters) { BatchSize = 128 };
        adapter.AdaptAndPredict(Count, K, sx, sy, Q, qx, Steps, predictions);   // warm-up: lazily created libtorch state

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        adapter.AdaptAndPredict(Count, K, sx, sy, Q, qx, Steps, predictions);
        var after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        Assert.Equal(before, after);
    }

    private static MetaParameters Parameters(int[] hidden, int inputSize, bool metaSgd)
    {
        using var learner = MetaLearner.Create(new MetaLearnerOptions { InputSize = inputSize, HiddenSizes = hidden, Seed = 17, InnerLearningRate = 0.03f });
        var parameters = learner.ExportParameters();
        return metaSgd ? TestData.WithRandomStepSizes(parameters, seed: 19, stepSize: 0.03f) : parameters;
    }
}
