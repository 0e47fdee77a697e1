using AnomalyMeta.Learning;
using TorchSharp;

namespace AnomalyMeta.Benchmarks;

/// <summary>The models compared by <see cref="SinusoidBenchmark"/>; names are the JSON keys.</summary>
public static class SinusoidVariants
{
    public const string Maml = "maml";
    public const string FirstOrderMaml = "fomaml";
    public const string MetaSgd = "metasgd";

    /// <summary>Meta-SGD trained with 1 to 5 inner steps drawn per meta-batch, so its step sizes hold for any number of steps.</summary>
    public const string MetaSgdAnySteps = "metasgd_anysteps";
    public const string Pretrained = "pretrained";
    public const string Oracle = "oracle";

    public static IReadOnlyList<string> All { get; } = [Maml, FirstOrderMaml, MetaSgd, MetaSgdAnySteps, Pretrained, Oracle];
}

/// <summary>Settings of the sinusoid benchmark; defaults are the protocol of Finn et al. 2017, section 5.1.</summary>
public sealed record SinusoidBenchmarkOptions
{
    public int Iterations { get; init; } = 70_000;

    /// <summary>Support points per task during meta-training (K).</summary>
    public int TrainingShots { get; init; } = 10;

    /// <summary>Query points per task during meta-training (Finn et al. use K as well).</summary>
    public int TrainingQueryPoints { get; init; } = 10;

    public int EvaluationTasks { get; init; } = 1_000;

    public int EvaluationQueryPoints { get; init; } = 100;

    public IReadOnlyList<int> EvaluationShots { get; init; } = [5, 10, 20];

    public IReadOnlyList<int> EvaluationSteps { get; init; } = [0, 1, 10];

    /// <summary>Fine-tuning step size of the pretrained baseline (Finn et al. 2017).</summary>
    public float PretrainedFineTuneLearningRate { get; init; } = 0.02f;

    public IReadOnlyList<string> Variants { get; init; } = SinusoidVariants.All;

    public int Seed { get; init; } = 1;

    /// <summary>When set, each trained model is saved there as sinusoid-{variant}.ammeta.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>
    /// libtorch intra-op threads for meta-training. One: the meta-batch's tensors are tiny, and on a shared 2-core machine
    /// two OpenMP threads spin against other processes (measured 551 iterations/s with 1 thread, 29 with 2, under load).
    /// </summary>
    public int TorchThreads { get; init; } = 1;

    /// <summary>FastAdapter threads for the evaluation.</summary>
    public int AdapterThreads { get; init; } = Environment.ProcessorCount;
}

/// <summary>Mean query MSE over the evaluation tasks after <paramref name="Steps"/> SGD steps on <paramref name="Shots"/> support points, with a 95% interval half-width.</summary>
public sealed record SinusoidCell(int Shots, int Steps, double Mse, double Ci95);

/// <summary>One model's training figures and evaluation table.</summary>
public sealed record SinusoidVariantResult(string Name, MetaTrainingReport Training, IReadOnlyList<SinusoidCell> Cells)
{
    public SinusoidCell Cell(int shots, int steps)
    {
        foreach (var cell in Cells)
        {
            if (cell.Shots == shots && cell.Steps == steps)
            {
                return cell;
            }
        }

        throw new KeyNotFoundException($"No result for K = {shots}, {steps} steps.");
    }
}

/// <summary>What <see cref="SinusoidBenchmark.Run"/> measured.</summary>
public sealed record SinusoidBenchmarkResult(SinusoidBenchmarkOptions Options, IReadOnlyList<SinusoidVariantResult> Variants)
{
    /// <summary>Meta-training speed of second-order MAML (or of the first variant run when MAML was not).</summary>
    public double MetaIterationsPerSecond
    {
        get
        {
            foreach (var variant in Variants)
            {
                if (variant.Name == SinusoidVariants.Maml)
                {
                    return variant.Training.IterationsPerSecond;
                }
            }

            return Variants.Count > 0 ? Variants[0].Training.IterationsPerSecond : 0;
        }
    }
}

/// <summary>
/// Reproduces the sinusoid experiment of Finn et al. 2017 (section 5.1) for MAML, first-order MAML, Meta-SGD,
/// a pretrained baseline (one network trained on all tasks jointly, then fine-tuned) and an oracle
/// (true amplitude and phase as extra inputs). Every model is evaluated on the same new tasks with <see cref="FastAdapter"/>.
/// </summary>
public static class SinusoidBenchmark
{
    public static SinusoidBenchmarkResult Run(SinusoidBenchmarkOptions options, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        torch.set_num_threads(options.TorchThreads);
        var results = new List<SinusoidVariantResult>();
        foreach (var name in options.Variants)
        {
            var (learnerOptions, oracle) = VariantOptions(name, options.Seed);
            var sampler = new SinusoidTaskSampler(oracle);
            using var learner = MetaLearner.Create(learnerOptions);
            progress?.Invoke($"{name}: training {options.Iterations} iterations");
            var training = learner.Train(sampler, options.Iterations, options.TrainingShots, options.TrainingQueryPoints, cancellationToken);
            progress?.Invoke($"{name}: {training.IterationsPerSecond:F0} iterations/s, final meta-loss {training.FinalMetaLoss:F3}, {training.SkippedIterations} non-finite meta-batches skipped");

            var parameters = learner.ExportParameters();
            if (name == SinusoidVariants.Pretrained)
            {
                parameters = parameters.WithInnerLearningRate(options.PretrainedFineTuneLearningRate);
            }

            // The oracle already knows the task: it is scored as it is, and its row repeats that MSE for every step count
            // (fine-tuning its amplitude and phase weights on K points would only measure noise).
            var cells = name == SinusoidVariants.Oracle
                ? Evaluate(parameters, sampler, options with { EvaluationSteps = [0] })
                : Evaluate(parameters, sampler, options);
            if (name == SinusoidVariants.Oracle)
            {
                var repeated = new List<SinusoidCell>();
                foreach (var cell in cells)
                {
                    foreach (var steps in options.EvaluationSteps)
                    {
                        repeated.Add(cell with { Steps = steps });
                    }
                }

                cells = repeated;
            }

            if (options.CheckpointDirectory is not null)
            {
                Directory.CreateDirectory(options.CheckpointDirectory);
                using var file = File.Create(Path.Combine(options.CheckpointDirectory, $"sinusoid-{name}.ammeta"));
                learner.Save(file);
            }

            results.Add(new SinusoidVariantResult(name, training, cells));
        }

        return new SinusoidBenchmarkResult(options, results);
    }

    /// <summary>The learner configuration of each variant: all share the network and outer optimiser of the paper.</summary>
    public static (MetaLearnerOptions Options, bool OracleInputs) VariantOptions(string name, int seed)
    {
        var paper = new MetaLearnerOptions { Seed = seed };
        return name switch
        {
            SinusoidVariants.Maml => (paper with { Algorithm = MetaAlgorithm.Maml }, false),
            SinusoidVariants.FirstOrderMaml => (paper with { Algorithm = MetaAlgorithm.FirstOrderMaml }, false),
            SinusoidVariants.MetaSgd => (paper with { Algorithm = MetaAlgorithm.MetaSgd }, false),
            SinusoidVariants.MetaSgdAnySteps => (paper with { Algorithm = MetaAlgorithm.MetaSgd, InnerSteps = 5, SampleInnerSteps = true }, false),
            // No inner loop: the query loss of the meta-parameters themselves, i.e. joint training on all tasks.
            SinusoidVariants.Pretrained => (paper with { InnerSteps = 0 }, false),
            SinusoidVariants.Oracle => (paper with { InnerSteps = 0, InputSize = 3, InputNormalization = SinusoidTaskSampler.OracleNormalization }, true),
            _ => throw new ArgumentException($"Unknown sinusoid variant '{name}'; expected one of {string.Join(", ", SinusoidVariants.All)}."),
        };
    }

    /// <summary>
    /// Mean query MSE over <see cref="SinusoidBenchmarkOptions.EvaluationTasks"/> new tasks for every (K, steps) pair.
    /// The tasks depend only on the seed and K, so every model sees the same ones.
    /// </summary>
    public static IReadOnlyList<SinusoidCell> Evaluate(MetaParameters parameters, SinusoidTaskSampler sampler, SinusoidBenchmarkOptions options)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentNullException.ThrowIfNull(options);
        var adapter = new FastAdapter(parameters) { MaxDegreeOfParallelism = options.AdapterThreads };
        int tasks = options.EvaluationTasks, queryPoints = options.EvaluationQueryPoints, inputs = sampler.InputSize;
        var cells = new List<SinusoidCell>();
        foreach (var shots in options.EvaluationShots)
        {
            var supportX = new float[tasks * shots * inputs];
            var supportY = new float[tasks * shots];
            var queryX = new float[tasks * queryPoints * inputs];
            var queryY = new float[tasks * queryPoints];
            sampler.Sample(new Random(unchecked((options.Seed * 7919) + shots)), tasks, shots, queryPoints, supportX, supportY, queryX, queryY);
            var predictions = new float[tasks * queryPoints];
            var taskMse = new double[tasks];
            foreach (var steps in options.EvaluationSteps)
            {
                adapter.AdaptAndPredict(tasks, shots, supportX, supportY, queryPoints, queryX, steps, predictions);
                for (var t = 0; t < tasks; t++)
                {
                    double sum = 0;
                    for (var q = 0; q < queryPoints; q++)
                    {
                        double error = predictions[(t * queryPoints) + q] - queryY[(t * queryPoints) + q];
                        sum += error * error;
                    }

                    taskMse[t] = sum / queryPoints;
                }

                var (mean, ci) = MeanWithInterval(taskMse);
                cells.Add(new SinusoidCell(shots, steps, mean, ci));
            }
        }

        return cells;
    }

    /// <summary>Mean and the half-width of its normal 95% interval (1.96 standard errors).</summary>
    internal static (double Mean, double Ci95) MeanWithInterval(ReadOnlySpan<double> values)
    {
        double sum = 0;
        foreach (var v in values)
        {
            sum += v;
        }

        var mean = sum / values.Length;
        double squares = 0;
        foreach (var v in values)
        {
            squares += (v - mean) * (v - mean);
        }

        var sd = values.Length > 1 ? Math.Sqrt(squares / (values.Length - 1)) : 0;
        return (mean, 1.96 * sd / Math.Sqrt(values.Length));
    }
}
