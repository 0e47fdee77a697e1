using System.Buffers.Binary;

namespace AnomalyMeta.Storage.Copy;

/// <summary>
/// Reads PostgreSQL's binary array format (what <c>array_send</c> returns and binary COPY carries) straight into a
/// caller's span, so reading millions of day rows does not allocate one <c>float[]</c> per row.
/// Layout (src/backend/utils/adt/arrayfuncs.c, array_send): int32 ndim, int32 has-nulls flag, uint32 element oid,
/// ndim × (int32 length, int32 lower bound), then per element an int32 byte length (-1 = NULL) and the value.
/// </summary>
internal static class ArrayWire
{
    private const uint Float4Oid = 700;

    /// <summary>
    /// Copies a one-dimensional <c>real[]</c> into <paramref name="destination"/> when it holds exactly
    /// destination.Length elements (a NULL element reads as NaN) and returns the element count either way; a count
    /// other than destination.Length means nothing was copied.
    /// </summary>
    public static int CopyReals(ReadOnlySpan<byte> wire, Span<float> destination)
    {
        if (wire.Length < 12)
        {
            throw new InvalidDataException($"A binary array needs at least 12 header bytes, found {wire.Length}.");
        }

        var dimensions = BinaryPrimitives.ReadInt32BigEndian(wire);
        var elementOid = BinaryPrimitives.ReadUInt32BigEndian(wire[8..]);
        if (dimensions == 0)
        {
            return 0;
        }

        if (dimensions != 1 || elementOid != Float4Oid)
        {
            throw new InvalidDataException($"Expected a one-dimensional real[] (oid {Float4Oid}), found {dimensions} dimensions of oid {elementOid}.");
        }

        if (wire.Length < 20)
        {
            throw new InvalidDataException($"A one-dimensional binary array needs 20 header bytes, found {wire.Length}.");
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(wire[12..]);
        if (count < 0)
        {
            throw new InvalidDataException($"A binary array cannot have {count} elements.");
        }

        if (count != destination.Length)
        {
            return count;
        }

        var position = 20;
        for (var i = 0; i < count; i++)
        {
            // Every element is checked against the bytes left: a truncated or corrupt value is an error naming the
            // element, never a read past the buffer or a value from the next element's bytes.
            if (wire.Length - position < 4)
            {
                throw new InvalidDataException($"Binary array element {i} of {count}: its length is cut off at byte {wire.Length}.");
            }

            var length = BinaryPrimitives.ReadInt32BigEndian(wire[position..]);
            position += 4;
            if (length == -1)
            {
                destination[i] = float.NaN;
                continue;
            }

            if (length != sizeof(float) || wire.Length - position < sizeof(float))
            {
                throw new InvalidDataException($"Binary array element {i} of {count}: {length} bytes announced, {wire.Length - position} left; a real takes 4.");
            }

            destination[i] = BinaryPrimitives.ReadSingleBigEndian(wire[position..]);
            position += length;
        }

        return count;
    }

    /// <summary>Bytes of a one-dimensional real[] of <paramref name="count"/> elements in the binary format.</summary>
    public static int RealsLength(int count) => count == 0 ? 12 : 20 + (8 * count);

    /// <summary>
    /// Writes <paramref name="values"/> as a one-dimensional real[] in the binary format (array_send's layout, what
    /// array_recv takes from a binary COPY) and returns the bytes written. A binary COPY field carries no type, so
    /// these bytes go out as the field itself: Npgsql's array writer dispatches per element, which cost more of the
    /// bulk load's client time than the rest of the row.
    /// </summary>
    public static int WriteReals(ReadOnlySpan<float> values, Span<byte> wire)
    {
        var length = RealsLength(values.Length);
        if (wire.Length < length)
        {
            throw new ArgumentException($"{values.Length} reals take {length} bytes; the buffer holds {wire.Length}.", nameof(wire));
        }

        BinaryPrimitives.WriteInt32BigEndian(wire, values.Length == 0 ? 0 : 1);
        BinaryPrimitives.WriteInt32BigEndian(wire[4..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(wire[8..], Float4Oid);
        if (values.Length == 0)
        {
            return length;
        }

        BinaryPrimitives.WriteInt32BigEndian(wire[12..], values.Length);
        BinaryPrimitives.WriteInt32BigEndian(wire[16..], 1);
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(wire[(20 + (8 * i))..], sizeof(float));
            BinaryPrimitives.WriteSingleBigEndian(wire[(24 + (8 * i))..], values[i]);
        }

        return length;
    }
}
