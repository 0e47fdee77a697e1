using AnomalyMeta.Learning;
namespace AnomalyMeta.Benchmarks;

/// <summary>
/// Sinusoid regression tasks of Finn et al. 2017, section 5.1: y = A sin(x - φ), A ~ U[0.1, 5], φ ~ U[0, π], x ~ U[-5, 5].
/// With <c>oracleInputs</c> every point also carries the task's true amplitude and phase as inputs 2 and 3;
/// the random draws are the same either way, so both modes see identical tasks for the same seed.
/// </summary>
public sealed class SinusoidTaskSampler(bool oracleInputs = false) : ITaskSampler
{
    public const float MinAmplitude = 0.1f;
    public const float MaxAmplitude = 5f;
    public const float MaxPhase = MathF.PI;
    public const float MinX = -5f;
    public const float MaxX = 5f;

    public int InputSize => oracleInputs ? 3 : 1;

    /// <summary>Normalisation that centres the oracle's amplitude and phase inputs (x is left as it is, like the other models).</summary>
    public static InputNormalization OracleNormalization { get; } = new(
        [0f, (MinAmplitude + MaxAmplitude) / 2f, MaxPhase / 2f],
        [1f, (MaxAmplitude - MinAmplitude) / MathF.Sqrt(12f), MaxPhase / MathF.Sqrt(12f)]);

    public void Sample(Random random, int tasks, int supportSize, int querySize, Span<float> supportX, Span<float> supportY, Span<float> queryX, Span<float> queryY)
    {
        ArgumentNullException.ThrowIfNull(random);
        var inputs = InputSize;
        for (var t = 0; t < tasks; t++)
        {
            var amplitude = MinAmplitude + ((MaxAmplitude - MinAmplitude) * random.NextSingle());
            var phase = MaxPhase * random.NextSingle();
            Fill(random, amplitude, phase, supportX.Slice(t * supportSize * inputs, supportSize * inputs), supportY.Slice(t * supportSize, supportSize));
            Fill(random, amplitude, phase, queryX.Slice(t * querySize * inputs, querySize * inputs), queryY.Slice(t * querySize, querySize));
        }
    }

    private void Fill(Random random, float amplitude, float phase, Span<float> x, Span<float> y)
    {
        var inputs = InputSize;
        for (var k = 0; k < y.Length; k++)
        {
            var position = MinX + ((MaxX - MinX) * random.NextSingle());
            x[k * inputs] = position;
            if (oracleInputs)
            {
                x[(k * inputs) + 1] = amplitude;
                x[(k * inputs) + 2] = phase;
            }

            y[k] = amplitude * MathF.Sin(position - phase);
        }
    }
}
