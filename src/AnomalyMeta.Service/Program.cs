using System.Text.Json.Serialization;
using AnomalyMeta.Scoring;
using AnomalyMeta.Service.Api;
using AnomalyMeta.Service.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Quartz;
using Serilog;

// The AnomalyMeta service: the morning job on Quartz, and the endpoints of the on-call engineer.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddSerilog(logger => logger.ReadFrom.Configuration(builder.Configuration).WriteTo.Console());
builder.Services.AddAnomalyMeta(builder.Configuration);
builder.Services.AddQuartzHostedService(options => options.WaitForJobsToComplete = true);
builder.Services.AddProblemDetails();
builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));

// A span per run and per batch, counters per run; exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
var telemetry = builder.Services.AddOpenTelemetry()
    .WithTracing(tracing => tracing.AddSource(ScoringTelemetry.Name))
    .WithMetrics(metrics => metrics.AddMeter(ScoringTelemetry.Name));
if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
{
    telemetry.UseOtlpExporter();
}

var app = builder.Build();
app.MapRunsApi();
app.MapHealthChecks("/health");
await app.RunAsync();
