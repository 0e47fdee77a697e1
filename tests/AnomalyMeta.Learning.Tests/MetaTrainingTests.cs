using AnomalyMeta.Benchmarks;
using TorchSharp;

namespace AnomalyMeta.Learning.Tests;

public sealed class MetaTrainingTests
{
    [Theory]
    [InlineData(MetaAlgorithm.Maml)]
    [InlineData(MetaAlgorithm.MetaSgd)]
    public void Training_is_deterministic_under_a_fixed_seed(MetaAlgorithm algorithm)
    {
        var first = TrainedParameters(new MetaLearnerOptions { Algorithm = algorithm, Seed = 12 });
        var second = TrainedParameters(new MetaLearnerOptions { Algorithm = algorithm, Seed = 12 });
        var other = TrainedParameters(new MetaLearnerOptions { Algorithm = algorithm, Seed = 13 });

        for (var l = 0; l < first.Weights.Count; l++)
        {
            Assert.Equal(first.Weights[l], second.Weights[l]);
            Assert.Equal(first.Biases[l], second.Biases[l]);
        }

        Assert.NotEqual(first.Weights[1], other.Weights[1]);
    }

    [Fact]
    public void Training_in_chunks_continues_the_optimiser_and_equals_one_call()
    {
        var options = new MetaLearnerOptions { Algorithm = MetaAlgorithm.MetaSgd, Seed = 21 };
        var sampler = new SinusoidTaskSampler();
        using var once = MetaLearner.Create(options);
        once.Train(sampler, iterations: 30, supportSize: 10, querySize: 10);
        using var chunked = MetaLearner.Create(options);
        chunked.Train(sampler, iterations: 10, supportSize: 10, querySize: 10);
        chunked.Train(sampler, iterations: 20, supportSize: 10, querySize: 10);

        var expected = once.ExportParameters();
        var actual = chunked.ExportParameters();
        for (var l = 0; l < expected.Weights.Count; l++)
        {
            Assert.Equal(expected.Weights[l], actual.Weights[l]);
            Assert.Equal(expected.Biases[l], actual.Biases[l]);
            Assert.Equal(expected.WeightStepSizes![l], actual.WeightStepSizes![l]);
            Assert.Equal(expected.BiasStepSizes![l], actual.BiasStepSizes![l]);
        }
    }

    [Fact]
    public void A_cosine_schedule_restarts_at_each_call_instead_of_staying_at_zero()
    {
        using var learner = MetaLearner.Create(new MetaLearnerOptions { Schedule = LearningRateSchedule.Cosine, Seed = 22 });
        var sampler = new SinusoidTaskSampler();
        learner.Train(sampler, iterations: 10, supportSize: 10, querySize: 10);
        var afterFirst = learner.ExportParameters();

        learner.Train(sampler, iterations: 10, supportSize: 10, querySize: 10);
        var afterSecond = learner.ExportParameters();

        Assert.NotEqual(afterFirst.Weights[1], afterSecond.Weights[1]);
    }

    [Fact]
    public void A_short_sinusoid_run_makes_adaptation_improve_the_unadapted_model()
    {
        using var learner = MetaLearner.Create(new MetaLearnerOptions { Seed = 3 });
        var sampler = new SinusoidTaskSampler();
        var before = Evaluate(learner.ExportParameters(), sampler);

        var report = learner.Train(sampler, iterations: 400, supportSize: 10, querySize: 10);
        var after = Evaluate(learner.ExportParameters(), sampler);

        Assert.Equal(400, report.Iterations);
        // After meta-training, one step on K = 10 points must clearly beat the unadapted model on the same tasks,
        // and beat what one step achieved from the random initialisation.
        Assert.True(after.Cell(10, 1).Mse < 0.8 * after.Cell(10, 0).Mse, $"adapted {after.Cell(10, 1).Mse:F3} vs unadapted {after.Cell(10, 0).Mse:F3}");
        Assert.True(after.Cell(10, 1).Mse < 0.8 * before.Cell(10, 1).Mse, $"after training {after.Cell(10, 1).Mse:F3} vs before {before.Cell(10, 1).Mse:F3}");
        Assert.True(report.MetaLossCurve[^1] < report.MetaLossCurve[0]);
    }

    [Fact]
    public void Meta_sgd_learns_different_step_sizes_per_parameter()
    {
        var parameters = TrainedParameters(new MetaLearnerOptions { Algorithm = MetaAlgorithm.MetaSgd, Seed = 5 });

        Assert.True(parameters.HasStepSizes);
        var steps = parameters.WeightStepSizes![1];
        Assert.NotEqual(steps.Min(), steps.Max());
    }

    [Fact]
    public void Training_leaves_no_live_tensor()
    {
        using var learner = MetaLearner.Create(new MetaLearnerOptions { Algorithm = MetaAlgorithm.MetaSgd, Schedule = LearningRateSchedule.Cosine });
        var sampler = new SinusoidTaskSampler();
        learner.Train(sampler, iterations: 3, supportSize: 10, querySize: 10);

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        learner.Train(sampler, iterations: 10, supportSize: 10, querySize: 10);
        var after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        Assert.Equal(before, after);
    }

    private static MetaParameters TrainedParameters(MetaLearnerOptions options)
    {
        using var learner = MetaLearner.Create(options);
        learner.Train(new SinusoidTaskSampler(), iterations: 25, supportSize: 10, querySize: 10);
        return learner.ExportParameters();
    }

    private static SinusoidVariantResult Evaluate(MetaParameters parameters, SinusoidTaskSampler sampler)
    {
        var options = new SinusoidBenchmarkOptions { EvaluationTasks = 200, EvaluationShots = [10], EvaluationSteps = [0, 1], Seed = 77 };
        var cells = SinusoidBenchmark.Evaluate(parameters, sampler, options);
        return new SinusoidVariantResult("test", new MetaTrainingReport(0, 0, 0, []), cells);
    }
}
