using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnomalyMeta.Service.Api;

/// <summary>
/// A mutating endpoint's small JSON body, read strictly: at most a given size whatever Content-Length says (or does not
/// say, when chunked), and no field the endpoint does not know (a typo is an error, not silently dropped).
/// </summary>
public static class StrictJsonBody
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The body as <typeparamref name="T"/>, or the problem answer saying why not (413 too large, 400 invalid).</summary>
    public static async Task<(T? Body, ProblemHttpResult? Problem)> ReadAsync<T>(HttpRequest http, int maxBytes, string what, CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(http);
        // Read at most one byte past the limit.
        var buffer = new byte[maxBytes + 1];
        int length = 0;
        for (int read; length < buffer.Length && (read = await http.Body.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0;)
        {
            length += read;
        }
        if (length > maxBytes)
        {
            return (null, TypedResults.Problem($"The body is larger than {maxBytes} bytes.", statusCode: 413, title: "Request too large"));
        }
        try
        {
            return JsonSerializer.Deserialize<T>(buffer.AsSpan(0, length), Json) is T body
                ? (body, null)
                : (null, TypedResults.Problem($"The body is empty: send a {what} as JSON.", statusCode: 400, title: $"Invalid {what}"));
        }
        catch (JsonException exception)
        {
            return (null, TypedResults.Problem($"The body is not a {what}: {exception.Message}", statusCode: 400, title: $"Invalid {what}"));
        }
    }
}
