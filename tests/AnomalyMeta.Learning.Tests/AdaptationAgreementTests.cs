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

    /// <summary>Every register width this machine accelerates (16, 8, 1 floats) with the shapes above.</summary>
    public static TheoryData<int, int[], bool> LanesAndShapes()
    {
        var data = new TheoryData<int, int[], bool>();
        foreach (var lanes in AcceleratedLanes())
        {
            data.Add(lanes, [40, 40], false);
            data.Add(lanes, [40, 40], true);
            data.Add(lanes, [40, 80, 40], true);
            data.Add(lanes, [5, 9, 3], true);
            data.Add(lanes, [7], false);   // one hidden layer: no backward product between hidden layers
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LanesAndShapes))]
    public void Every_register_width_matches_the_reference_at_the_production_shape(int lanes, int[] hidden, bool metaSgd)
    {
        // Nine inputs and a support of 29 points: neither a whole number of row tiles nor of registers, so the padded
        // rows and columns must drop out. 70 series take two chunks, so two threads.
        var parameters = Parameters(hidden, inputSize: 9, metaSgd);
        const int Count = 70, K = 29, Q = 13, Steps = 2;
        var (sx, sy, qx) = RandomTasks(seed: 23, Count, K, Q, inputs: 9);

        var expected = ReferenceMlp.AdaptAndPredict(parameters, Count, K, sx, sy, Q, qx, Steps);
        var actual = new float[Count * Q];
        new FastAdapter(parameters, lanes).AdaptAndPredict(Count, K, sx, sy, Q, qx, Steps, actual);

        TestData.AssertClose(expected, actual, 1e-4);
    }

    [Fact]
    public void Adaptation_changes_the_forecast_and_no_steps_gives_the_meta_model()
    {
        var parameters = Parameters([40, 40], inputSize: 9, metaSgd: false);
        const int Count = 5, K = 24, Q = 24;
        var (sx, sy, qx) = RandomTasks(seed: 29, Count, K, Q, inputs: 9);
        var adapter = new FastAdapter(parameters);

        var unadapted = new float[Count * Q];
        adapter.AdaptAndPredict(Count, K, sx, sy, Q, qx, 0, unadapted);
        var adapted = new float[Count * Q];
        adapter.AdaptAndPredict(Count, K, sx, sy, Q, qx, 1, adapted);

        TestData.AssertClose(ReferenceMlp.AdaptAndPredict(parameters, Count, K, sx, sy, Q, qx, 0), unadapted, 1e-5);
        Assert.Contains(Enumerable.Range(0, Count * Q), i => MathF.Abs(adapted[i] - unadapted[i]) > 1e-3f);
    }

    [Theory]
    [MemberData(nameof(Lanes))]
    public void A_series_whose_inputs_overflow_gets_a_non_finite_forecast_and_its_neighbours_do_not(int lanes)
    {
        // Scoring reports a non-finite forecast as a diverged series: an overflowing input must reach the forecast,
        // and stay within its own series.
        var parameters = Parameters([40, 40], inputSize: 9, metaSgd: false);
        const int Count = 3, K = 24, Q = 8;
        var (sx, sy, qx) = RandomTasks(seed: 31, Count, K, Q, inputs: 9);
        sx[(K * 9) + 5] = float.PositiveInfinity;   // series 1, point 0, input 5
        sx[(K * 9) + 6] = float.NegativeInfinity;

        var predictions = new float[Count * Q];
        new FastAdapter(parameters, lanes).AdaptAndPredict(Count, K, sx, sy, Q, qx, 1, predictions);

        Assert.All(predictions.AsSpan(0, Q).ToArray(), p => Assert.True(float.IsFinite(p)));
        Assert.Contains(predictions.AsSpan(Q, Q).ToArray(), p => !float.IsFinite(p));
        Assert.All(predictions.AsSpan(2 * Q, Q).ToArray(), p => Assert.True(float.IsFinite(p)));
    }

    public static TheoryData<int> Lanes() => [.. AcceleratedLanes()];

    [Fact]
    public void A_register_width_other_than_16_8_or_1_is_refused_with_the_widths_it_takes()
    {
        var parameters = Parameters([8], inputSize: 2, metaSgd: false);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new FastAdapter(parameters, lanes: 4));

        Assert.Equal("lanes", error.ParamName);
        Assert.Contains("16 (AVX-512), 8 (AVX2) or 1", error.Message, StringComparison.Ordinal);
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

    private static IEnumerable<int> AcceleratedLanes()
    {
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            yield return 16;
        }

        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            yield return 8;
        }

        yield return 1;
    }

    // Inputs and targets of the scale the morning job feeds (normalised values around zero).
    private static (float[] SupportX, float[] SupportY, float[] QueryX) RandomTasks(int seed, int count, int supportSize, int querySize, int inputs)
    {
        var random = new Random(seed);
        float[] Draw(int n)
        {
            var values = new float[n];
            for (var i = 0; i < n; i++)
            {
                values[i] = (2f * random.NextSingle()) - 1f;
            }

            return values;
        }

        return (Draw(count * supportSize * inputs), Draw(count * supportSize), Draw(count * querySize * inputs));
    }

    private static MetaParameters Parameters(int[] hidden, int inputSize, bool metaSgd)
    {
        using var learner = MetaLearner.Create(new MetaLearnerOptions { InputSize = inputSize, HiddenSizes = hidden, Seed = 17, InnerLearningRate = 0.03f });
        var parameters = learner.ExportParameters();
        return metaSgd ? TestData.WithRandomStepSizes(parameters, seed: 19, stepSize: 0.03f) : parameters;
    }
}
