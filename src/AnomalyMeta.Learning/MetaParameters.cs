namespace AnomalyMeta.Learning;

/// <summary>
/// Plain copies of the meta-parameters for TorchSharp-free adaptation (<see cref="FastAdapter"/>).
/// Layer l maps LayerSizes[l] inputs to LayerSizes[l + 1] outputs; its weights are row-major [in, out] (y = x W + b).
/// Hidden layers use ReLU, the output layer is linear with one unit.
/// </summary>
public sealed record MetaParameters
{
    /// <summary>[InputSize, hidden..., 1].</summary>
    public required IReadOnlyList<int> LayerSizes { get; init; }

    /// <summary>Per layer, [in * out] row-major.</summary>
    public required IReadOnlyList<float[]> Weights { get; init; }

    /// <summary>Per layer, [out].</summary>
    public required IReadOnlyList<float[]> Biases { get; init; }

    /// <summary>Meta-SGD's learned per-parameter inner step sizes, shaped like <see cref="Weights"/>; null means the scalar <see cref="InnerLearningRate"/>.</summary>
    public IReadOnlyList<float[]>? WeightStepSizes { get; init; }

    /// <summary>Meta-SGD's learned per-parameter inner step sizes, shaped like <see cref="Biases"/>.</summary>
    public IReadOnlyList<float[]>? BiasStepSizes { get; init; }

    /// <summary>Inner SGD step size when there are no per-parameter step sizes.</summary>
    public float InnerLearningRate { get; init; } = 0.01f;

    public required InputNormalization InputNormalization { get; init; }

    public int InputSize => LayerSizes[0];

    /// <summary>
    /// Parameters of a learner built with <paramref name="options"/>: the layer sizes, inner step size and input
    /// normalisation come from the options, so a trained learner and its checkpoint cannot disagree on them.
    /// </summary>
    internal static MetaParameters For(
        MetaLearnerOptions options, float[][] weights, float[][] biases, float[][]? weightStepSizes, float[][]? biasStepSizes) => new()
    {
        LayerSizes = options.LayerSizes(),
        Weights = weights,
        Biases = biases,
        WeightStepSizes = weightStepSizes,
        BiasStepSizes = biasStepSizes,
        InnerLearningRate = options.InnerLearningRate,
        InputNormalization = options.EffectiveNormalization,
    };

    /// <summary>Whether adaptation uses the learned per-parameter step sizes.</summary>
    public bool HasStepSizes => WeightStepSizes is not null && BiasStepSizes is not null;

    /// <summary>These parameters adapted with a different scalar step size (and without per-parameter step sizes), e.g. to fine-tune a pretrained baseline.</summary>
    public MetaParameters WithInnerLearningRate(float innerLearningRate) =>
        this with { InnerLearningRate = innerLearningRate, WeightStepSizes = null, BiasStepSizes = null };

    internal void Validate()
    {
        if (LayerSizes.Count < 2 || LayerSizes[^1] != 1)
        {
            throw new ArgumentException("MetaParameters.LayerSizes must run from the input size to a single output.");
        }

        var layers = LayerSizes.Count - 1;
        if (Weights.Count != layers || Biases.Count != layers)
        {
            throw new ArgumentException($"MetaParameters has {Weights.Count} weight and {Biases.Count} bias arrays for {layers} layers.");
        }

        for (var l = 0; l < layers; l++)
        {
            var expected = LayerSizes[l] * LayerSizes[l + 1];
            if (Weights[l].Length != expected || Biases[l].Length != LayerSizes[l + 1])
            {
                throw new ArgumentException($"MetaParameters layer {l}: {Weights[l].Length} weights and {Biases[l].Length} biases, expected {expected} and {LayerSizes[l + 1]}.");
            }

            if (HasStepSizes && (WeightStepSizes![l].Length != expected || BiasStepSizes![l].Length != LayerSizes[l + 1]))
            {
                throw new ArgumentException($"MetaParameters layer {l}: step sizes are not shaped like the parameters.");
            }
        }

        if ((WeightStepSizes is null) != (BiasStepSizes is null))
        {
            throw new ArgumentException("MetaParameters needs both weight and bias step sizes, or neither.");
        }

        InputNormalization.Validate(LayerSizes[0]);
    }
}
