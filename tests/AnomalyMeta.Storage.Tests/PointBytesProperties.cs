using System.Buffers.Binary;
using AnomalyMeta.Storage.Copy;
using FsCheck.Xunit;

namespace AnomalyMeta.Storage.Tests;

/// <summary>The stored form of a day's points on any values and any bytes.</summary>
public sealed class PointBytesProperties
{
    [Property(MaxTest = 500)]
    public bool Points_round_trip_bit_for_bit_and_every_NaN_as_the_one_NaN(float[] values)
    {
        var bytes = new byte[PointBytes.Length(values.Length)];
        Assert.Equal(bytes.Length, PointBytes.Write(values, bytes));
        var read = new float[values.Length];
        var count = PointBytes.Read(bytes, read);
        var expected = values.Select(v => float.IsNaN(v) ? PointBytes.NaNBits : BitConverter.SingleToInt32Bits(v));
        return count == values.Length && read.Select(BitConverter.SingleToInt32Bits).SequenceEqual(expected);
    }

    [Property(MaxTest = 500)]
    public bool Each_point_is_float4send_of_it_big_endian(float value)
    {
        var bytes = new byte[4];
        PointBytes.Write([value], bytes);
        return BinaryPrimitives.ReadInt32BigEndian(bytes) == (float.IsNaN(value) ? 0x7FC00000 : BitConverter.SingleToInt32Bits(value));
    }

    [Property(MaxTest = 500)]
    public bool Any_bytes_read_as_points_or_fail_with_InvalidDataException(byte[] bytes, byte expected)
    {
        var points = new float[expected % 8];
        try
        {
            var count = PointBytes.Read(bytes, points);
            // Whole points only; a count other than the destination's copies nothing.
            return bytes.Length % 4 == 0 && count == bytes.Length / 4;
        }
        catch (InvalidDataException)
        {
            return bytes.Length % 4 != 0;
        }
    }
}
