using AnomalyMeta.Benchmarks;

namespace AnomalyMeta.Learning.Tests;

/// <summary>
/// Runs alone: its stream of collections would pause every test running beside it.
/// </summary>
[Collection(nameof(GarbageCollectionStressTests))]
[CollectionDefinition(nameof(GarbageCollectionStressTests), DisableParallelization = true)]
public sealed class GarbageCollectionStressTests
{
    [Theory]
    [InlineData(MetaAlgorithm.Maml)]
    [InlineData(MetaAlgorithm.MetaSgd)]
    public void Training_and_adaptation_are_unchanged_by_collections_and_finalizers_running_on_another_thread(MetaAlgorithm algorithm)
    {
        // A Scalar passed to libtorch without a live reference can be finalized (freed) mid-call by a collection that
        // another thread triggers: it failed CI once. Here a collection and its finalizers run every millisecond or so,
        // which made the unheld Scalars fail within one run (checked by reverting the fix).
        var options = new MetaLearnerOptions { Algorithm = algorithm, Seed = 31, Schedule = LearningRateSchedule.Cosine };
        var quiet = TrainAndAdapt(options);

        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect(0);   // the Scalars at risk are young: a gen-0 collection finds them
                GC.WaitForPendingFinalizers();
                Thread.Sleep(1);
            }
        });
        collector.Start();
        try
        {
            for (var run = 0; run < 2; run++)
            {
                Assert.Equal(quiet, TrainAndAdapt(options));
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
    }

    private static float[] TrainAndAdapt(MetaLearnerOptions options)
    {
        var sampler = new SinusoidTaskSampler();
        using var learner = MetaLearner.Create(options);
        learner.Train(sampler, iterations: 200, supportSize: 10, querySize: 10);
        var parameters = learner.ExportParameters();
        const int Tasks = 64, Points = 10;
        var supportX = new float[Tasks * Points];
        var supportY = new float[Tasks * Points];
        var queryX = new float[Tasks * Points];
        var queryY = new float[Tasks * Points];
        sampler.Sample(new Random(5), Tasks, Points, Points, supportX, supportY, queryX, queryY);
        var predictions = new float[Tasks * Points];
        using var adapter = new BatchedAdapter(parameters);
        adapter.AdaptAndPredict(Tasks, Points, supportX, supportY, Points, queryX, steps: 5, predictions);
        return [.. parameters.Weights.SelectMany(w => w), .. predictions];
    }
}
