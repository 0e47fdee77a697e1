using System.Globalization;
using System.Net;
using AnomalyMeta.Testing;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AnomalyMeta.Service.Tests;

/// <summary>
/// The dashboard at / in headless Chromium (Debian's package, driven by Playwright) against the service on a real
/// socket (Kestrel on 127.0.0.1) and the fleet scored by the real pipeline: what a person sees, checked against the tables.
/// </summary>
[Collection(ScoredFleetTests.Name)]
public sealed class DashboardBrowserTests(ScoredFleetFixture fleet, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Debian's chromium; override with ANOMALYMETA_CHROMIUM.</summary>
    private static readonly string Chromium = Environment.GetEnvironmentVariable("ANOMALYMETA_CHROMIUM") ?? "/usr/bin/chromium";

    private WebApplicationFactory<Program> _service = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;
    private string _baseUrl = "";

    public static string ArtifactsDirectory => Path.Combine(AppContext.BaseDirectory, "artifacts");

    public async Task InitializeAsync()
    {
        await DashboardFleet.TagAsync(fleet);
        _service = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web.UseSetting("ConnectionStrings:Postgres", fleet.ConnectionString));
        // A browser needs a socket: Kestrel on a free loopback port instead of the in-memory test server.
        _service.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _service.StartServer();
        _baseUrl = _service.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install -y chromium (deploy/run-tests.sh does).");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }
        _playwright?.Dispose();
        await _service.DisposeAsync();
    }

    [Fact]
    public async Task A_person_sees_the_days_anomalies_narrows_them_by_tag_and_opens_a_series_with_its_flags_on_the_chart()
    {
        var page = await _browser.NewPageAsync(new() { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);

        await ActAsync(page, () => page.GotoAsync(_baseUrl + "/#/?date=2026-11-22"));

        // The day's list: the scoring day, highest score first, as the anomaly table ranks it.
        var ranked = await DashboardFleet.RankedAsync(fleet);
        Assert.Equal("2026-11-22", await page.InputValueAsync("#f-date"));
        var rows = page.Locator("#anomalies tbody tr");
        Assert.Equal(Math.Min(50, ranked.Count), await rows.CountAsync());
        Assert.Equal(ranked.Take(50).Select(r => r.Key), await page.Locator("#anomalies tbody tr td:nth-child(2)").AllInnerTextsAsync());
        var scores = (await page.Locator("#anomalies tbody td.score").AllInnerTextsAsync()).Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(scores.OrderByDescending(s => s), scores);

        // Drill-down: the counts per region, then a click on one value narrows the list to it.
        // Another key first: choosing the key already shown changes nothing.
        await ActAsync(page, () => page.SelectOptionAsync("#drill-key", "tier"));
        Assert.Equal(2, await page.Locator("#tag-counts tbody tr").CountAsync());
        await ActAsync(page, () => page.SelectOptionAsync("#drill-key", "region"));
        var euCount = page.Locator("#tag-counts tr[data-tag='region=eu'] td:nth-child(2)");
        int eu = (await DashboardFleet.RankedAsync(fleet, "s.tags ->> 'region' = 'eu'")).Count;
        Assert.Equal(eu.ToString(CultureInfo.InvariantCulture), await euCount.InnerTextAsync());
        await ActAsync(page, () => page.ClickAsync("#tag-counts tr[data-tag='region=eu']"));
        Assert.Equal("region=eu", await page.InputValueAsync("#f-tag"));
        Assert.Equal(Math.Min(50, eu), await rows.CountAsync());
        Assert.True(eu < ranked.Count);
        foreach (string tags in await page.Locator("#anomalies tbody tr td:nth-child(9)").AllInnerTextsAsync())
        {
            Assert.Contains("region=eu", tags, StringComparison.Ordinal);
        }

        // A filter typed into the form: the series key search narrows to one series.
        string flagged = await fleet.MostFlaggedSeriesAsync();
        await page.FillAsync("#f-tag", "");
        await page.FillAsync("#f-q", flagged);
        await ActAsync(page, () => page.ClickAsync("#filters button[type=submit]"));
        var ofSeries = await DashboardFleet.RankedAsync(fleet, "s.series_key = @flagged", new { flagged });
        Assert.Equal(ofSeries.Count, await rows.CountAsync());
        Assert.All(await page.Locator("#anomalies tbody tr td:nth-child(2)").AllInnerTextsAsync(), key => Assert.Equal(flagged, key));
        Directory.CreateDirectory(ArtifactsDirectory);
        await ActAsync(page, () => page.GotoAsync(_baseUrl + "/#/?date=2026-11-22"));
        string listShot = Path.Combine(ArtifactsDirectory, "dashboard.png");
        await page.ScreenshotAsync(new() { Path = listShot, FullPage = true });

        // The series page of a clicked anomaly: its flags drawn on the chart where the values are.
        await page.FillAsync("#f-q", flagged);
        await ActAsync(page, () => page.ClickAsync("#filters button[type=submit]"));
        await ActAsync(page, () => rows.First.Locator("td:nth-child(3)").ClickAsync());
        Assert.Equal($"#/series/{Uri.EscapeDataString(flagged)}/2026-11-22", new Uri(page.Url).Fragment);
        Assert.Equal($"{flagged} on 2026-11-22", await page.InnerTextAsync("#series-title"));
        var markers = page.Locator("#flag-layer .flag-marker");
        Assert.Equal(ofSeries.Count, await markers.CountAsync());
        Assert.Equal(ofSeries.Select(f => f.Ts).Order(), (await markers.EvaluateAllAsync<string[]>("ms => ms.map(m => m.dataset.ts)"))
            .Select(t => DateTime.Parse(t, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal)));
        // The chart's own flag series holds the flagged values, and each marker sits inside the plotting area.
        Assert.Equal(ofSeries.Count, await page.EvaluateAsync<int>("() => window.anomalyChart.data[5].filter(v => v !== null).length"));
        var plot = await page.Locator("#chart .u-over").BoundingBoxAsync();
        Assert.NotNull(plot);
        foreach (var marker in await markers.AllAsync())
        {
            var box = await marker.BoundingBoxAsync();
            Assert.NotNull(box);
            float x = box.X + (box.Width / 2), y = box.Y + (box.Height / 2);
            Assert.InRange(x, plot.X - 1, plot.X + plot.Width + 1);
            Assert.InRange(y, plot.Y - 1, plot.Y + plot.Height + 1);
        }
        Assert.Equal(ofSeries.Count, await page.Locator("#series-flags tbody tr").CountAsync());
        Assert.Equal("scored", await page.InnerTextAsync("#series-history tbody tr:first-child td:nth-child(4)"));
        string seriesShot = Path.Combine(ArtifactsDirectory, "dashboard-series.png");
        await page.ScreenshotAsync(new() { Path = seriesShot, FullPage = true });

        // The run ledger with the scoring run's series per status.
        await ActAsync(page, () => page.ClickAsync("header nav a[href='#/runs']"));
        await using var connection = await fleet.DataSource.OpenConnectionAsync();
        int scored = await connection.ExecuteScalarAsync<int>("select count(*)::int from run_series where run_id = @runId and status = 'scored'", new { runId = fleet.Run.RunId });
        Assert.Contains($"scored {scored}", await page.InnerTextAsync($"#runs tr[data-run='{fleet.Run.RunId}'] td.status-counts"), StringComparison.Ordinal);

        Assert.Empty(errors);
        output.WriteLine($"screenshots: {listShot} and {seriesShot}");
        Console.WriteLine($"dashboard screenshots: {listShot} and {seriesShot}");
    }

    /// <summary>
    /// Does what a person does (a click, a navigation) and waits until the dashboard has rendered what follows: dashboard.js
    /// sets body[data-ready] to 'false' while a view renders and 'true' when it is done; no error shown.
    /// </summary>
    private static async Task ActAsync(IPage page, Func<Task> action)
    {
        if (page.Url != "about:blank")
        {
            await page.EvaluateAsync("() => { document.body.dataset.ready = 'false'; }");
        }
        await action();
        await page.WaitForFunctionAsync("() => document.body.dataset.ready === 'true'");
        Assert.Equal("", await page.InnerTextAsync("#error"));
    }
}
