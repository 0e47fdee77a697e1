namespace AnomalyMeta.Scoring.Ingest;

/// <summary>
/// What an ingest's refusal carries besides its message: the line and field it names (a bad line), or that the data
/// was refused as a whole (a step that conflicts with a registered one). The HTTP API answers from these instead of
/// parsing messages. They travel in <see cref="Exception.Data"/> so the exception types stay what callers catch.
/// </summary>
public static class ObservationErrors
{
    private const string LineKey = "anomalymeta.line";
    private const string FieldKey = "anomalymeta.field";
    private const string RefusedKey = "anomalymeta.refused";

    /// <summary>The line (1-based, the header is line 1 of a CSV) a refusal names, or null when it names none.</summary>
    public static int? LineOf(Exception exception) => exception?.Data[LineKey] as int?;

    /// <summary>The field (series_key, timestamp, value) a refusal names, or null when it is the whole line.</summary>
    public static string? FieldOf(Exception exception) => exception?.Data[FieldKey] as string;

    /// <summary>True when the exception refuses the data sent (a bad line, a step conflict), not a fault of the service.</summary>
    public static bool IsRefusal(Exception exception) =>
        exception is InvalidDataException || (exception?.Data[RefusedKey] as bool? ?? false);

    /// <summary>"<paramref name="name"/> line N[, field 'F']: detail", with the line and field kept for the caller.</summary>
    internal static InvalidDataException AtLine(string name, int line, string? field, string detail, Exception? inner = null)
    {
        string message = field is null ? $"{name} line {line}: {detail}" : $"{name} line {line}, field '{field}': {detail}";
        var exception = new InvalidDataException(message, inner);
        exception.Data[LineKey] = line;
        exception.Data[FieldKey] = field;
        return exception;
    }

    /// <summary>Marks an exception as a refusal of the data sent.</summary>
    internal static T Refused<T>(T exception) where T : Exception
    {
        exception.Data[RefusedKey] = true;
        return exception;
    }
}
