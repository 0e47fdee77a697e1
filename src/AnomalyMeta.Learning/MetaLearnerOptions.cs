namespace AnomalyMeta.Learning;

/// <summary>
/// Configuration of the meta-learner: the functional MLP (sizes), the algorithm, and the inner and outer optimisation.
/// Defaults follow Finn et al. 2017, section 5.1 (sinusoid regression).
/// </summary>
public sealed record MetaLearnerOptions
{
    /// <summary>Number of float inputs per point.</summary>
    public int InputSize { get; init; } = 1;

    /// <summary>Widths of the hidden ReLU layers; the output layer has one unit.</summary>
    public IReadOnlyList<int> HiddenSizes { get; init; } = [40, 40];

    public MetaAlgorithm Algorithm { get; init; } = MetaAlgorithm.Maml;

    /// <summary>SGD steps of the inner loop during meta-training. 0 trains one network on all tasks jointly (the pretrained baseline).</summary>
    public int InnerSteps { get; init; } = 1;

    /// <summary>
    /// Draw each meta-batch's number of inner steps uniformly from 1..<see cref="InnerSteps"/> instead of always taking
    /// <see cref="InnerSteps"/>: the initialisation (and Meta-SGD's step sizes) must then work whatever the number of
    /// steps at scoring time, which keeps learned step sizes from overshooting when applied repeatedly.
    /// </summary>
    public bool SampleInnerSteps { get; init; }

    /// <summary>Inner SGD step size; for Meta-SGD the initial value of every learned step size.</summary>
    public float InnerLearningRate { get; init; } = 0.01f;

    /// <summary>Adam learning rate of the outer loop.</summary>
    public float OuterLearningRate { get; init; } = 1e-3f;

    /// <summary>Tasks per meta-update.</summary>
    public int MetaBatchSize { get; init; } = 25;

    /// <summary>Maximum global L2 norm of the meta-gradient; 0 turns clipping off.</summary>
    public float GradientClipNorm { get; init; } = 10f;

    /// <summary>Seeds the initial weights and the task sampling, so a run is reproducible.</summary>
    public int Seed { get; init; } = 1;

    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Normalisation of raw inputs; null means none.</summary>
    public InputNormalization? InputNormalization { get; init; }

    internal InputNormalization EffectiveNormalization => InputNormalization ?? InputNormalization.Identity(InputSize);

    internal void Validate()
    {
        if (InputSize < 1)
        {
            throw new ArgumentException($"InputSize is {InputSize}; it must be at least 1.");
        }

        if (HiddenSizes is null || HiddenSizes.Count == 0)
        {
            throw new ArgumentException("HiddenSizes must name at least one hidden layer.");
        }

        for (var i = 0; i < HiddenSizes.Count; i++)
        {
            if (HiddenSizes[i] < 1)
            {
                throw new ArgumentException($"HiddenSizes[{i}] is {HiddenSizes[i]}; every layer needs at least one unit.");
            }
        }

        if (InnerSteps < 0)
        {
            throw new ArgumentException($"InnerSteps is {InnerSteps}; it must be 0 or more.");
        }

        if (!(InnerLearningRate > 0f) || !float.IsFinite(InnerLearningRate))
        {
            throw new ArgumentException($"InnerLearningRate is {InnerLearningRate}; it must be positive and finite.");
        }

        if (!(OuterLearningRate > 0f) || !float.IsFinite(OuterLearningRate))
        {
            throw new ArgumentException($"OuterLearningRate is {OuterLearningRate}; it must be positive and finite.");
        }

        if (MetaBatchSize < 1)
        {
            throw new ArgumentException($"MetaBatchSize is {MetaBatchSize}; it must be at least 1.");
        }

        if (GradientClipNorm < 0f || !float.IsFinite(GradientClipNorm))
        {
            throw new ArgumentException($"GradientClipNorm is {GradientClipNorm}; it must be 0 (off) or positive.");
        }

        EffectiveNormalization.Validate(InputSize);
    }

    /// <summary>Layer widths from input to output: [InputSize, hidden..., 1].</summary>
    internal int[] LayerSizes()
    {
        var sizes = new int[HiddenSizes.Count + 2];
        sizes[0] = InputSize;
        for (var i = 0; i < HiddenSizes.Count; i++)
        {
            sizes[i + 1] = HiddenSizes[i];
        }

        sizes[^1] = 1;
        return sizes;
    }
}
