using AnomalyMeta.Service.Hosting;
using AnomalyMeta.Testing;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace AnomalyMeta.Service.Tests;

public sealed class HealthTests : IAsyncLifetime
{
    private readonly PostgresFixture _database = new();

    public Task InitializeAsync() => _database.InitializeAsync();

    public Task DisposeAsync() => _database.DisposeAsync();

    [Fact]
    public async Task The_service_is_healthy_with_its_database_and_unhealthy_without_it()
    {
        var missing = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Database = "anomalymeta_no_such_database", Timeout = 3 };

        var up = await CheckAsync(_database.ConnectionString);
        var down = await CheckAsync(missing.ConnectionString);

        Assert.Equal(HealthStatus.Healthy, up.Entries["postgres"].Status);
        Assert.Equal(HealthStatus.Unhealthy, down.Entries["postgres"].Status);
        // Up but with nothing trained: not ready to score.
        Assert.Equal(HealthStatus.Unhealthy, up.Entries["models"].Status);
        Assert.Contains("anomalymeta train", up.Entries["models"].Description, StringComparison.Ordinal);
    }

    private static async Task<HealthReport> CheckAsync(string connectionString)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:Postgres"] = connectionString;
        builder.Services.AddAnomalyMeta(builder.Configuration);
        using var host = builder.Build();
        return await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(CancellationToken.None);
    }
}
