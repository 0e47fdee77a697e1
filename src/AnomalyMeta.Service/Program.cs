using AnomalyMeta.Service.Api;
using AnomalyMeta.Service.Hosting;
using Quartz;
using Serilog;

// The AnomalyMeta service: the morning job on Quartz, and the endpoints of the on-call engineer.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddSerilog(logger => logger.ReadFrom.Configuration(builder.Configuration).WriteTo.Console());
builder.Services.AddAnomalyMeta(builder.Configuration);
builder.Services.AddQuartzHostedService(options => options.WaitForJobsToComplete = true);
builder.Services.AddProblemDetails();

var app = builder.Build();
app.MapRunsApi();
app.MapGet("/health", () => TypedResults.Ok("ok"));
await app.RunAsync();
