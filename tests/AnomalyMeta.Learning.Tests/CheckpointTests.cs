using AnomalyMeta.Benchmarks;

namespace AnomalyMeta.Learning.Tests;

public sealed class CheckpointTests
{
    [Theory]
    [InlineData(MetaAlgorithm.Maml)]
    [InlineData(MetaAlgorithm.MetaSgd)]
    public void A_checkpoint_round_trip_restores_options_normalisation_and_parameters(MetaAlgorithm algorithm)
    {
        var options = new MetaLearnerOptions
        {
            InputSize = 3,
            HiddenSizes = [12, 7],
            Algorithm = algorithm,
            InnerSteps = 2,
            InnerLearningRate = 0.02f,
            Schedule = LearningRateSchedule.Cosine,
            InputNormalization = SinusoidTaskSampler.OracleNormalization,
            Seed = 8,
        };
        using var learner = MetaLearner.Create(options);
        learner.Train(new SinusoidTaskSampler(oracleInputs: true), iterations: 5, supportSize: 5, querySize: 5);
        using var stream = new MemoryStream();
        learner.Save(stream);
        stream.Position = 0;

        using var loaded = MetaLearner.Load(stream);

        var expected = learner.ExportParameters();
        var actual = loaded.ExportParameters();
        Assert.Equal(options.HiddenSizes, loaded.Options.HiddenSizes);
        Assert.Equal(options with { HiddenSizes = loaded.Options.HiddenSizes, InputNormalization = loaded.Options.InputNormalization }, loaded.Options);
        Assert.Equal(options.InputNormalization!.Mean, actual.InputNormalization.Mean);
        Assert.Equal(options.InputNormalization.Scale, actual.InputNormalization.Scale);
        for (var l = 0; l < expected.Weights.Count; l++)
        {
            Assert.Equal(expected.Weights[l], actual.Weights[l]);
            Assert.Equal(expected.Biases[l], actual.Biases[l]);
        }

        Assert.Equal(expected.HasStepSizes, actual.HasStepSizes);
        if (expected.HasStepSizes)
        {
            Assert.Equal(expected.WeightStepSizes![0], actual.WeightStepSizes![0]);
            Assert.Equal(expected.BiasStepSizes![^1], actual.BiasStepSizes![^1]);
        }
    }

    [Fact]
    public void A_checkpoint_of_another_format_version_is_rejected_with_a_clear_error()
    {
        var bytes = SavedCheckpoint();
        BitConverter.GetBytes(Checkpoint.FormatVersion + 1).CopyTo(bytes, 6);   // the version follows the 6-byte magic

        var error = Assert.Throws<InvalidDataException>(() => MetaLearner.Load(new MemoryStream(bytes)));
        Assert.Contains($"version {Checkpoint.FormatVersion + 1}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_checkpoint_is_rejected_with_a_clear_error()
    {
        var bytes = SavedCheckpoint();
        bytes[^10] ^= 0x40;

        var error = Assert.Throws<InvalidDataException>(() => MetaLearner.Load(new MemoryStream(bytes)));
        Assert.Contains("Corrupt checkpoint", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_checkpoint_is_rejected_with_a_clear_error()
    {
        var bytes = SavedCheckpoint();

        var error = Assert.Throws<InvalidDataException>(() => MetaLearner.Load(new MemoryStream(bytes[..(bytes.Length / 2)])));
        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => MetaLearner.Load(new MemoryStream(bytes[..8])));
    }

    [Fact]
    public void A_file_that_is_not_a_checkpoint_is_rejected_with_a_clear_error()
    {
        var error = Assert.Throws<InvalidDataException>(() => MetaLearner.Load(new MemoryStream("{\"hello\": 1}"u8.ToArray())));
        Assert.Contains("Not an AnomalyMeta meta-learner checkpoint", error.Message, StringComparison.Ordinal);
    }

    private static byte[] SavedCheckpoint()
    {
        using var learner = MetaLearner.Create(new MetaLearnerOptions { HiddenSizes = [8, 8] });
        using var stream = new MemoryStream();
        learner.Save(stream);
        return stream.ToArray();
    }
}
