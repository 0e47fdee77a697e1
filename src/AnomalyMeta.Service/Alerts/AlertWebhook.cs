using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace AnomalyMeta.Service.Alerts;

/// <summary>How one post ended: the attempts it took, the last status code, and the error when it was not delivered.</summary>
public sealed record WebhookResult(int Attempts, int? StatusCode, string? Error)
{
    public bool Delivered => Error is null;
}

/// <summary>
/// Posts an alert payload to a route's webhook. The client's pipeline (<see cref="AlertServices"/>) retries transient
/// failures (connection errors, timeouts, 408, 429, 5xx) with exponential backoff; a post that still fails is a
/// result, not an exception, so one route down does not hold back the others.
/// </summary>
public sealed class AlertWebhook(HttpClient http)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // deliveryId goes out as Idempotency-Key: the same run finish and route always carry the same key, so a receiver
    // can drop the copy that a process which died between the post and its ledger row sends again.
    public async Task<WebhookResult> PostAsync(Uri url, AlertPayload payload, string deliveryId, CancellationToken cancellationToken)
    {
        // Serialised once: every retry sends the same bytes.
        var body = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(payload, Json));
        body.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = body };
        request.Headers.Add("Idempotency-Key", deliveryId);
        var attempts = new StrongBox<int>();
        request.Options.Set(AttemptCounter.Key, attempts);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return new WebhookResult(attempts.Value, (int)response.StatusCode, null);
            }
            string text = await response.Content.ReadAsStringAsync(cancellationToken);
            return new WebhookResult(attempts.Value, (int)response.StatusCode,
                $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}: {Shorten(text)}");
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested && exception is not OutOfMemoryException)
        {
            // Connection refused, DNS, TLS, every attempt timed out: the ledger keeps the reason, a later pass retries.
            return new WebhookResult(attempts.Value, null, $"{exception.GetType().Name}: {exception.Message}");
        }
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : string.Concat(text.AsSpan(0, 300), "…");
}

/// <summary>
/// Counts the attempts of a post: it sits inside the retry handler, so it sees every attempt of the same request.
/// </summary>
public sealed class AttemptCounter : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<StrongBox<int>> Key = new("anomalymeta.alert-attempts");

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Options.TryGetValue(Key, out var attempts))
        {
            Interlocked.Increment(ref attempts.Value);
        }
        return base.SendAsync(request, cancellationToken);
    }
}
