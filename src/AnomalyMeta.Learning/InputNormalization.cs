namespace AnomalyMeta.Learning;

/// <summary>
/// Affine normalisation applied to every raw input before the first layer: <c>(x - Mean) / Scale</c>, per input.
/// Stored in the checkpoint so that scoring feeds the model exactly what it was trained on.
/// </summary>
public sealed record InputNormalization(IReadOnlyList<float> Mean, IReadOnlyList<float> Scale)
{
    /// <summary>No normalisation for <paramref name="inputSize"/> inputs.</summary>
    public static InputNormalization Identity(int inputSize)
    {
        var mean = new float[inputSize];
        var scale = new float[inputSize];
        Array.Fill(scale, 1f);
        return new InputNormalization(mean, scale);
    }

    internal bool IsIdentity
    {
        get
        {
            for (var i = 0; i < Mean.Count; i++)
            {
                if (Mean[i] != 0f || Scale[i] != 1f)
                {
                    return false;
                }
            }

            return true;
        }
    }

    internal void Validate(int inputSize)
    {
        if (Mean.Count != inputSize || Scale.Count != inputSize)
        {
            throw new ArgumentException($"Input normalisation has {Mean.Count} means and {Scale.Count} scales; expected {inputSize} of each.");
        }

        for (var i = 0; i < inputSize; i++)
        {
            if (!float.IsFinite(Mean[i]) || !float.IsFinite(Scale[i]) || Scale[i] == 0f)
            {
                throw new ArgumentException($"Input normalisation of input {i}: mean {Mean[i]}, scale {Scale[i]}; both must be finite and the scale non-zero.");
            }
        }
    }
}
