using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AnomalyMeta.Service.Tests;

/// <summary>One request a webhook received: its route, Idempotency-Key, JSON body and the status it was answered with.</summary>
internal sealed record ReceivedHook(string Route, string? IdempotencyKey, JsonElement Body, int Status);

/// <summary>
/// A real HTTP server (Kestrel on 127.0.0.1, a free port) that receives alert webhooks at <c>/hooks/{route}</c>, keeps
/// every request, and answers 500 to the first attempts of each delivery of a route told to fail.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedHook> _received = new();
    private readonly ConcurrentDictionary<string, int> _failFirst = new();
    private readonly ConcurrentDictionary<string, int> _attemptsByKey = new();

    private WebhookReceiver(WebApplication app)
    {
        _app = app;
        _app.MapPost("/hooks/{route}", async (string route, HttpRequest request) =>
        {
            using var body = await JsonDocument.ParseAsync(request.Body);
            string? key = request.Headers["Idempotency-Key"];
            int attempt = _attemptsByKey.AddOrUpdate($"{route}|{key}", 1, (_, n) => n + 1);
            int status = _failFirst.TryGetValue(route, out int fail) && (fail < 0 || attempt <= fail) ? 500 : 200;
            _received.Enqueue(new ReceivedHook(route, key, body.RootElement.Clone(), status));
            return Results.StatusCode(status);
        });
    }

    public string Url(string route) => $"{_app.Urls.First()}/hooks/{route}";

    /// <summary>Answers 500 to the first <paramref name="attempts"/> requests of each delivery (-1: to every request).</summary>
    public void Fail(string route, int attempts) => _failFirst[route] = attempts;

    public IReadOnlyList<ReceivedHook> Received(string route) => [.. _received.Where(h => h.Route == route)];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var receiver = new WebhookReceiver(builder.Build());
        await receiver._app.StartAsync();
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
