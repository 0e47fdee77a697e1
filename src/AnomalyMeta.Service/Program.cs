using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using AnomalyMeta.Scoring;
using AnomalyMeta.Service.Api;
using AnomalyMeta.Service.Hosting;
using AnomalyMeta.Service.Jobs;
using AnomalyMeta.Service.Security;
using AnomalyMeta.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Quartz;
using Scalar.AspNetCore;
using Serilog;
using Serilog.Formatting.Compact;

// The AnomalyMeta service: the morning job on Quartz, and the endpoints of the on-call engineer.
var builder = WebApplication.CreateBuilder(args);

// A wrong or unreachable database, or one without this version's migrations, is one clear line and exit code 2,
// before the scheduler starts and fails on its own tables with a page of stack trace.
if (DatabaseMigrator.Unusable(PostgresSettings.Resolve(builder.Configuration.GetConnectionString("Postgres")),
        DatabaseMigrator.FindMigrationsDirectory()) is string unusable)
{
    Console.Error.WriteLine($"anomalymeta service: {unusable}");
    return 2;
}

// One JSON object a line (compact JSON, CLEF) for the log shipper, with the rendered message for people. Logger scopes
// (a run's RunId) reach every line through Serilog's provider; FromLogContext adds what is pushed on Serilog's LogContext.
builder.Services.AddSerilog(logger => logger.ReadFrom.Configuration(builder.Configuration)
    .Enrich.FromLogContext()
    .WriteTo.Console(new RenderedCompactJsonFormatter()));
builder.Services.AddAnomalyMeta(builder.Configuration);
builder.Services.AddQuartzHostedService(options => options.WaitForJobsToComplete = true);
builder.Services.AddHostedService<UnfinishedRuns>();
builder.Services.AddProblemDetails();
// The dashboard at / and its JSON API (read only), described at /openapi/v1.json and browsable at /scalar.
builder.Services.AddOpenApi();
builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
builder.Services.AddAuthentication(ApiKeyAuthentication.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthentication>(ApiKeyAuthentication.SchemeName, null);
builder.Services.AddAuthorization();
// Mutating endpoints: a few requests a minute per key (or per address when unauthenticated) are plenty for people
// and scripts; a loop that queues rescores is stopped with 429 before it floods the scheduler.
builder.Services.AddRateLimiter(limiter =>
{
    limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
    limiter.AddPolicy(RunsApi.MutatingPolicy, context => RateLimitPartition.GetFixedWindowLimiter(
        context.User.Identity?.Name ?? context.Connection.RemoteIpAddress?.ToString() ?? "anonymous",
        _ => new FixedWindowRateLimiterOptions { PermitLimit = 10, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
    // Feedback and mutes: a person going through a day's flags one click at a time, so more than rescores.
    limiter.AddPolicy(FeedbackApi.FeedbackPolicy, context => RateLimitPartition.GetFixedWindowLimiter(
        context.User.Identity?.Name ?? context.Connection.RemoteIpAddress?.ToString() ?? "anonymous",
        _ => new FixedWindowRateLimiterOptions { PermitLimit = 120, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
    // Ingest is bulk traffic: no rate per minute (a feed sends as fast as it can), but two requests at a time over all
    // keys (each holds a connection, a transaction and up to a chunk of readings in memory); 8 more wait, then 429.
    limiter.AddPolicy(ObservationsApi.IngestPolicy, _ => RateLimitPartition.GetConcurrencyLimiter("ingest",
        _ => new ConcurrencyLimiterOptions { PermitLimit = 2, QueueLimit = 8, QueueProcessingOrder = QueueProcessingOrder.OldestFirst }));
});

// A span per run and per batch, counters per run, with the HTTP server's and Npgsql's own: scraped at /metrics,
// and exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
var telemetry = builder.Services.AddOpenTelemetry()
    .WithTracing(tracing => tracing.AddSource(ScoringTelemetry.Name).AddAspNetCoreInstrumentation().AddNpgsql())
    .WithMetrics(metrics => metrics.AddMeter(ScoringTelemetry.Name).AddAspNetCoreInstrumentation().AddNpgsqlInstrumentation()
        .AddPrometheusExporter());
if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
{
    telemetry.UseOtlpExporter();
}

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();
app.MapRunsApi();
app.MapModelsApi();
app.MapJobsApi();
app.MapFeedbackApi();
app.MapSeriesApi();
app.MapObservationsApi();
app.MapAnomaliesApi();
app.UseDefaultFiles();
app.UseStaticFiles();
app.MapOpenApi();
app.MapScalarApiReference();
// Liveness: the process answers. Readiness: PostgreSQL answers and the live clustering has its models.
app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(AnomalyMetaServices.ReadyTag) });
app.MapHealthChecks("/health");
app.MapPrometheusScrapingEndpoint();
await app.RunAsync();
return 0;

/// <summary>The service's entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
