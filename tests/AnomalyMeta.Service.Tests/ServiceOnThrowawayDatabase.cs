using AnomalyMeta.Storage;
using AnomalyMeta.Testing;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Service.Tests;

/// <summary>
/// The service served in process (Quartz running) against a throwaway database of the test class's own, migrated
/// before and dropped after.
/// </summary>
public abstract class ServiceOnThrowawayDatabase : IAsyncLifetime
{
    protected PostgresFixture Database { get; } = new();

    protected WebApplicationFactory<Program> Service { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        Service = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web.UseSetting("ConnectionStrings:Postgres", Database.ConnectionString));
    }

    public async Task DisposeAsync()
    {
        await Service.DisposeAsync();
        await Database.DisposeAsync();
    }

    /// <summary>A new API key for <paramref name="name"/>, made in the service's database.</summary>
    protected async Task<string> KeyAsync(string name) => await Service.Services.GetRequiredService<ApiKeyStore>().CreateAsync(name, CancellationToken.None);
}
