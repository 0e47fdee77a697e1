using FsCheck;
using FsCheck.Xunit;

namespace AnomalyMeta.Learning.Tests;

/// <summary>The checkpoint reader on damaged input: <see cref="InvalidDataException"/>, never another exception, never a silently wrong model.</summary>
public sealed class CheckpointProperties
{
    private static readonly byte[] Valid = Checkpoint();

    [Property(MaxTest = 300)]
    public bool Any_bytes_are_a_checkpoint_or_an_InvalidDataException(byte[] bytes) => LoadsOrInvalid(bytes, mustFail: false);

    [Property(MaxTest = 300)]
    public bool A_checkpoint_cut_short_is_an_InvalidDataException(PositiveInt cut) => LoadsOrInvalid(Valid[..(cut.Get % Valid.Length)], mustFail: true);

    [Property(MaxTest = 300)]
    public bool A_checkpoint_with_one_byte_changed_is_an_InvalidDataException(PositiveInt position, byte flip)
    {
        var damaged = (byte[])Valid.Clone();
        damaged[position.Get % damaged.Length] ^= (byte)(flip | 1);
        return LoadsOrInvalid(damaged, mustFail: true);
    }

    private static bool LoadsOrInvalid(byte[] bytes, bool mustFail)
    {
        try
        {
            using var learner = MetaLearner.Load(new MemoryStream(bytes));
            return !mustFail;
        }
        catch (InvalidDataException)
        {
            return true;
        }
    }

    private static byte[] Checkpoint()
    {
        using var learner = MetaLearner.Create(new MetaLearnerOptions { InputSize = 2, HiddenSizes = [4], Seed = 3 });
        using var stream = new MemoryStream();
        learner.Save(stream);
        return stream.ToArray();
    }
}
