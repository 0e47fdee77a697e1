using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AnomalyMeta.Learning;

/// <summary>
/// Checkpoint file layout (little-endian):
/// magic "AMMETA" (6 bytes), format version (int32), payload length (int64), SHA-256 of the payload (32 bytes), payload.
/// Payload: options as UTF-8 JSON (length-prefixed string; includes the input normalisation), then per layer
/// weights and biases, then, when the file is for Meta-SGD, per layer the step sizes; every array as int32 length + floats.
/// The hash lets a truncated or bit-flipped file fail loudly instead of loading wrong weights.
/// </summary>
internal static class Checkpoint
{
    public const int FormatVersion = 1;
    private static readonly byte[] Magic = "AMMETA"u8.ToArray();
    private const long MaxPayloadBytes = 1L << 31;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = false,
    };

    public static void Write(Stream stream, MetaLearnerOptions options, MetaParameters parameters)
    {
        using var payload = new MemoryStream();
        using (var writer = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(JsonSerializer.Serialize(options, JsonOptions));
            for (var l = 0; l < parameters.Weights.Count; l++)
            {
                WriteArray(writer, parameters.Weights[l]);
                WriteArray(writer, parameters.Biases[l]);
            }

            writer.Write(parameters.HasStepSizes);
            if (parameters.HasStepSizes)
            {
                for (var l = 0; l < parameters.Weights.Count; l++)
                {
                    WriteArray(writer, parameters.WeightStepSizes![l]);
                    WriteArray(writer, parameters.BiasStepSizes![l]);
                }
            }
        }

        var bytes = payload.GetBuffer().AsSpan(0, (int)payload.Length);
        using var header = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        header.Write(Magic);
        header.Write(FormatVersion);
        header.Write((long)bytes.Length);
        header.Write(SHA256.HashData(bytes));
        header.Write(bytes);
        header.Flush();
    }

    public static (MetaLearnerOptions Options, MetaParameters Parameters) Read(Stream stream)
    {
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        try
        {
            var magic = reader.ReadBytes(Magic.Length);
            if (!magic.AsSpan().SequenceEqual(Magic))
            {
                throw new InvalidDataException("Not an AnomalyMeta meta-learner checkpoint: the file does not start with \"AMMETA\".");
            }

            var version = reader.ReadInt32();
            if (version != FormatVersion)
            {
                throw new InvalidDataException($"Checkpoint format version {version} is not supported; this build reads version {FormatVersion}.");
            }

            var length = reader.ReadInt64();
            if (length <= 0 || length > MaxPayloadBytes)
            {
                throw new InvalidDataException($"Corrupt checkpoint: payload length {length} is out of range.");
            }

            var expectedHash = reader.ReadBytes(32);
            var payload = reader.ReadBytes((int)length);
            if (expectedHash.Length != 32 || payload.Length != length)
            {
                throw new InvalidDataException($"Corrupt checkpoint: the file is truncated (payload {payload.Length} of {length} bytes).");
            }

            if (!SHA256.HashData(payload).AsSpan().SequenceEqual(expectedHash))
            {
                throw new InvalidDataException("Corrupt checkpoint: the payload does not match its SHA-256 hash.");
            }

            return ReadPayload(payload);
        }
        catch (EndOfStreamException exception)
        {
            throw new InvalidDataException("Corrupt checkpoint: the file ends before its header does.", exception);
        }
    }

    private static (MetaLearnerOptions, MetaParameters) ReadPayload(byte[] payload)
    {
        using var reader = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
        try
        {
            var options = JsonSerializer.Deserialize<MetaLearnerOptions>(reader.ReadString(), JsonOptions)
                ?? throw new InvalidDataException("Corrupt checkpoint: the options are empty.");
            options.Validate();
            var sizes = options.LayerSizes();
            var layers = sizes.Length - 1;
            var weights = new float[layers][];
            var biases = new float[layers][];
            for (var l = 0; l < layers; l++)
            {
                weights[l] = ReadArray(reader, sizes[l] * sizes[l + 1], $"layer {l} weights");
                biases[l] = ReadArray(reader, sizes[l + 1], $"layer {l} biases");
            }

            float[][]? weightSteps = null, biasSteps = null;
            if (reader.ReadBoolean())
            {
                weightSteps = new float[layers][];
                biasSteps = new float[layers][];
                for (var l = 0; l < layers; l++)
                {
                    weightSteps[l] = ReadArray(reader, sizes[l] * sizes[l + 1], $"layer {l} weight step sizes");
                    biasSteps[l] = ReadArray(reader, sizes[l + 1], $"layer {l} bias step sizes");
                }
            }

            return (options, MetaParameters.For(options, weights, biases, weightSteps, biasSteps));
        }
        catch (Exception exception) when (exception is JsonException or EndOfStreamException or ArgumentException)
        {
            throw new InvalidDataException($"Corrupt checkpoint: {exception.Message}", exception);
        }
    }

    private static void WriteArray(BinaryWriter writer, float[] values)
    {
        writer.Write(values.Length);
        foreach (var v in values)
        {
            writer.Write(v);
        }
    }

    private static float[] ReadArray(BinaryReader reader, int expectedLength, string what)
    {
        var length = reader.ReadInt32();
        if (length != expectedLength)
        {
            throw new InvalidDataException($"Corrupt checkpoint: {what} hold {length} values; the options imply {expectedLength}.");
        }

        var values = new float[length];
        for (var i = 0; i < length; i++)
        {
            values[i] = reader.ReadSingle();
            if (!float.IsFinite(values[i]))
            {
                throw new InvalidDataException($"Corrupt checkpoint: {what}[{i}] is {values[i]}.");
            }
        }

        return values;
    }
}
