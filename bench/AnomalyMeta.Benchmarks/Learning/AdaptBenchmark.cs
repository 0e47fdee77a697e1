using AnomalyMeta.Learning;
using System.Diagnostics;
using TorchSharp;

namespace AnomalyMeta.Benchmarks;

/// <summary>Which adapter <see cref="AdaptBenchmark"/> measures.</summary>
public enum AdaptEngine
{
    /// <summary><see cref="FastAdapter"/>: the C# kernel (register-tiled matrix products, AVX-512 where the CPU has it).</summary>
    Fast,

    /// <summary><see cref="BatchedAdapter"/>: TorchSharp, batched <c>bmm</c>.</summary>
    Torch,
}

/// <summary>Settings of the scoring-time adaptation benchmark.</summary>
public sealed record AdaptBenchmarkOptions
{
    public int Series { get; init; } = 1_000_000;

    /// <summary>Support points per series; the same number of points is forecast.</summary>
    public int SupportSize { get; init; } = 24;

    public int Steps { get; init; } = 5;

    /// <summary>Inputs per point (1: the sinusoid task; more: random inputs of the morning job's shape, 9 for its one-step task).</summary>
    public int Inputs { get; init; } = 1;

    /// <summary>Points forecast per series; null: as many as the support (the morning job forecasts one day).</summary>
    public int? QuerySize { get; init; }

    /// <summary>Multiply-adds of one forward pass of the <c>Inputs</c>-40-40-1 network.</summary>
    public long ForwardMultiplyAdds => (Inputs * 40L) + (40L * 40) + 40;

    /// <summary>
    /// Floating-point operations per series (2 per multiply-add): per step and support point a forward pass, the
    /// deltas back through the hidden layers, and the weight gradients; then a forward pass per forecast point.
    /// </summary>
    public long FlopsPerSeries
    {
        get
        {
            long forward = ForwardMultiplyAdds;
            long backward = forward - (Inputs * 40L);   // no delta is needed for the inputs
            long gradient = forward;
            return 2 * ((Steps * (long)SupportSize * (forward + backward + gradient)) + ((QuerySize ?? SupportSize) * forward));
        }
    }

    public AdaptEngine Engine { get; init; } = AdaptEngine.Fast;

    /// <summary>Series generated and adapted per call, so memory stays flat whatever the total.</summary>
    public int ChunkSeries { get; init; } = 65_536;

    /// <summary>Series per TorchSharp batch (torch engine only).</summary>
    public int TorchBatchSize { get; init; } = 512;

    public int Threads { get; init; } = 2;

    public int Seed { get; init; } = 1;
}

/// <summary>
/// What <see cref="AdaptBenchmark.Run"/> measured. <paramref name="SeriesPerSecond"/> counts adaptation and forecasting only;
/// <paramref name="WallSeconds"/> includes generating the tasks. <paramref name="AdaptCpuSeconds"/> is the process CPU time spent
/// adapting: on a shared machine series per CPU-second is the figure that does not depend on the neighbours' load.
/// </summary>
public sealed record AdaptBenchmarkResult(AdaptBenchmarkOptions Options, long Series, double AdaptSeconds, double WallSeconds, double SeriesPerSecond, double PeakRssMb, double ForecastMse, double AdaptCpuSeconds)
{
    public double SeriesPerCpuSecond => AdaptCpuSeconds > 0 ? Series / AdaptCpuSeconds : 0;
}

/// <summary>
/// Adapts many independent sinusoid tasks from K support points with a few SGD steps and forecasts K points each:
/// the shape of the scoring workload, with throughput and peak memory.
/// </summary>
public static class AdaptBenchmark
{
    /// <summary>Runs the benchmark; <paramref name="parameters"/> null adapts a freshly initialised 1-40-40-1 network (speed does not depend on the values).</summary>
    public static AdaptBenchmarkResult Run(AdaptBenchmarkOptions options, MetaParameters? parameters = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Series, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ChunkSeries, 1);
        torch.set_num_threads(options.Threads);
        if (parameters is null)
        {
            using var learner = MetaLearner.Create(new MetaLearnerOptions { Seed = options.Seed, InputSize = options.Inputs });
            parameters = learner.ExportParameters();
        }

        var sampler = new SinusoidTaskSampler();
        if (parameters.InputSize != options.Inputs)
        {
            throw new ArgumentException($"The benchmark feeds {options.Inputs} inputs per point; the parameters take {parameters.InputSize}.", nameof(parameters));
        }

        int k = options.SupportSize, q = options.QuerySize ?? k, inputs = options.Inputs, chunk = Math.Min(options.ChunkSeries, options.Series);
        var supportX = new float[chunk * k * inputs];
        var supportY = new float[chunk * k];
        var queryX = new float[chunk * q * inputs];
        var queryY = new float[chunk * q];
        var predictions = new float[chunk * q];
        var fast = options.Engine == AdaptEngine.Fast ? new FastAdapter(parameters) { MaxDegreeOfParallelism = options.Threads } : null;
        using var batched = options.Engine == AdaptEngine.Torch ? new BatchedAdapter(parameters) { BatchSize = options.TorchBatchSize } : null;

        var random = new Random(options.Seed);
        var wall = Stopwatch.StartNew();
        var adaptTicks = 0L;
        var cpu = TimeSpan.Zero;
        using var process = Process.GetCurrentProcess();
        double squaredError = 0;
        long done = 0;
        while (done < options.Series && !cancellationToken.IsCancellationRequested)
        {
            var count = (int)Math.Min(chunk, options.Series - done);
            if (inputs == sampler.InputSize && q == k)
            {
                sampler.Sample(random, count, k, k, supportX, supportY, queryX, queryY);
            }
            else
            {
                // Speed does not depend on the values: inputs and targets uniform in [-1, 1], of the right shape.
                Fill(random, supportX.AsSpan(0, count * k * inputs));
                Fill(random, supportY.AsSpan(0, count * k));
                Fill(random, queryX.AsSpan(0, count * q * inputs));
                Fill(random, queryY.AsSpan(0, count * q));
            }
            process.Refresh();
            var cpuStart = process.TotalProcessorTime;
            var start = Stopwatch.GetTimestamp();
            if (fast is not null)
            {
                fast.AdaptAndPredict(count, k, supportX.AsSpan(0, count * k * inputs), supportY.AsSpan(0, count * k), q,
                    queryX.AsSpan(0, count * q * inputs), options.Steps, predictions.AsSpan(0, count * q));
            }
            else
            {
                batched!.AdaptAndPredict(count, k, supportX.AsSpan(0, count * k * inputs), supportY.AsSpan(0, count * k), q,
                    queryX.AsSpan(0, count * q * inputs), options.Steps, predictions.AsSpan(0, count * q));
            }

            adaptTicks += Stopwatch.GetTimestamp() - start;
            process.Refresh();
            cpu += process.TotalProcessorTime - cpuStart;
            for (var i = 0; i < count * q; i++)
            {
                double error = predictions[i] - queryY[i];
                squaredError += error * error;
            }

            done += count;
        }

        wall.Stop();
        var adaptSeconds = (double)adaptTicks / Stopwatch.Frequency;
        return new AdaptBenchmarkResult(
            options,
            done,
            adaptSeconds,
            wall.Elapsed.TotalSeconds,
            adaptSeconds > 0 ? done / adaptSeconds : 0,
            ProcessMemory.PeakResidentMegabytes(),
            squaredError / (done * q),
            cpu.TotalSeconds);
    }

    private static void Fill(Random random, Span<float> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)random.NextDouble() * 2f - 1f;
        }
    }
}
