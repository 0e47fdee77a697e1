using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace AnomalyMeta.Storage.Copy;

/// <summary>
/// A day's points as observation_day stores them (db/0021): 4 bytes per point, IEEE 754 single precision, big-endian
/// (the bytes float4send gives each element of a real[]), every NaN written as 7fc00000 so that SQL finds a missing
/// point by comparing bytes. PostgreSQL sends and receives the block whole; real[] cost a function call per element.
/// </summary>
internal static class PointBytes
{
    /// <summary>The one NaN written: a quiet NaN with no payload, as PostgreSQL's own 'NaN'::real.</summary>
    public const int NaNBits = 0x7FC00000;

    /// <summary>Bytes of <paramref name="points"/> points.</summary>
    public static int Length(int points) => checked(points * sizeof(float));

    /// <summary>Writes <paramref name="points"/> into <paramref name="bytes"/>; returns the bytes written.</summary>
    public static int Write(ReadOnlySpan<float> points, Span<byte> bytes)
    {
        var length = Length(points.Length);
        if (bytes.Length < length)
        {
            throw new ArgumentException($"{points.Length} points take {length} bytes; the buffer holds {bytes.Length}.", nameof(bytes));
        }

        for (var i = 0; i < points.Length; i++)
        {
            var value = points[i];
            BinaryPrimitives.WriteInt32BigEndian(bytes[(i * sizeof(float))..], float.IsNaN(value) ? NaNBits : BitConverter.SingleToInt32Bits(value));
        }

        return length;
    }

    /// <summary>
    /// Reads stored bytes into <paramref name="points"/> when they hold exactly points.Length points, and returns the
    /// number of points they hold either way; a count other than points.Length means nothing was copied. Bytes that
    /// are not whole points are an <see cref="InvalidDataException"/>.
    /// </summary>
    public static int Read(ReadOnlySpan<byte> bytes, Span<float> points)
    {
        if (bytes.Length % sizeof(float) != 0)
        {
            throw new InvalidDataException($"{bytes.Length} bytes are not whole points of 4 bytes.");
        }

        var count = bytes.Length / sizeof(float);
        if (count != points.Length)
        {
            return count;
        }

        var source = MemoryMarshal.Cast<byte, int>(bytes);
        var destination = MemoryMarshal.Cast<float, int>(points);
        if (BitConverter.IsLittleEndian)
        {
            // Vectorised byte swap of the whole day.
            BinaryPrimitives.ReverseEndianness(source, destination);
        }
        else
        {
            source.CopyTo(destination);
        }

        return count;
    }
}
