using AnomalyMeta.Service.Alerts;
using AnomalyMeta.Service.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AnomalyMeta.Service.Tests;

public sealed class AlertOptionsTests
{
    [Fact]
    public void Bad_routes_are_refused_at_start_each_problem_naming_its_setting()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["Alerts:Routes:0:Name"] = "payments";
        builder.Configuration["Alerts:Routes:0:Url"] = "ftp://example.invalid/hook";
        builder.Configuration["Alerts:Routes:1:Name"] = "payments";
        builder.Configuration["Alerts:Routes:1:Url"] = "http://127.0.0.1:9/hook";
        builder.Configuration["Alerts:Routes:1:MinScore"] = "1.5";
        builder.Services.AddAnomalyMeta(builder.Configuration);
        using var host = builder.Build();

        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<AlertOptions>());

        Assert.Contains(error.Failures, f => f.StartsWith("Alerts:Routes:0:Url must be an absolute http or https URL", StringComparison.Ordinal));
        Assert.Contains("Alerts:Routes:1:Name 'payments' is used by another route.", error.Failures);
        Assert.Contains(error.Failures, f => f.StartsWith("Alerts:Routes:1:MinScore must be in 0..1", StringComparison.Ordinal));
    }
}
