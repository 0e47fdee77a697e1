using System.Buffers.Binary;
using AnomalyMeta.Storage.Copy;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace AnomalyMeta.Storage.Tests;

/// <summary>The binary array reader on any bytes: a value or its documented error, never another exception.</summary>
public sealed class ArrayWireProperties
{
    [Property(MaxTest = 500)]
    public bool Any_bytes_read_as_an_array_or_fail_with_InvalidDataException(byte[] wire, byte expected)
    {
        try
        {
            ArrayWire.CopyReals(wire, new float[expected % 8]);
            return true;
        }
        catch (InvalidDataException)
        {
            return true;
        }
    }

    [Property(MaxTest = 500)]
    public bool A_well_formed_array_cut_anywhere_fails_with_InvalidDataException(float[] values, PositiveInt cut)
    {
        var wire = Encode(values);
        int length = cut.Get % wire.Length;
        try
        {
            ArrayWire.CopyReals(wire.AsSpan(0, length), new float[values.Length]);
            // Only a cut that leaves the whole array readable can succeed: the empty array's 12 bytes, or all of it.
            return values.Length == 0 && length >= 12;
        }
        catch (InvalidDataException)
        {
            return true;
        }
    }

    [Property(MaxTest = 500)]
    public bool Arrays_round_trip_bit_for_bit(float[] values)
    {
        var read = new float[values.Length];
        int count = ArrayWire.CopyReals(Encode(values), read);
        return count == values.Length && values.Select(BitConverter.SingleToInt32Bits).SequenceEqual(read.Select(BitConverter.SingleToInt32Bits));
    }

    private static byte[] Encode(float[] values)
    {
        var wire = new byte[ArrayWire.RealsLength(values.Length)];
        Assert.Equal(wire.Length, ArrayWire.WriteReals(values, wire));
        return wire;
    }
}
