using AnomalyMeta.Testing;
using SkiaSharp;

namespace AnomalyMeta.Cli.Tests;

/// <summary>`anomalymeta plot` as a separate process on a fleet scored by the real pipeline; the PNG is decoded and inspected.</summary>
public sealed class PlotCommandTests(ScoredFleetFixture fleet) : IClassFixture<ScoredFleetFixture>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("anomalymeta-plot-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private Dictionary<string, string> Environment() => new() { ["ConnectionStrings__Postgres"] = fleet.ConnectionString };

    [Fact]
    public async Task A_flagged_day_is_a_png_of_the_requested_size_with_red_markers()
    {
        string key = await fleet.MostFlaggedSeriesAsync();
        string path = Path.Combine(_directory, "flagged.png");

        var result = await CliProcess.RunAsync(Environment(), "plot", "--series", key, "--date", "2026-11-22", "--out", path, "--width", "900", "--height", "450");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains(key, result.Output, StringComparison.Ordinal);
        using var image = Decode(path);
        Assert.Equal((900, 450), (image.Width, image.Height));
        Assert.True(RedPixels(image) > 20, $"{RedPixels(image)} red pixels: the flags are not drawn");
    }

    [Fact]
    public async Task A_day_without_flags_has_no_red_on_it()
    {
        string key = await fleet.QuietSeriesAsync();
        string path = Path.Combine(_directory, "quiet.png");

        var result = await CliProcess.RunAsync(Environment(), "plot", "--series", key, "--date", "2026-11-22", "--out", path);

        Assert.True(result.ExitCode == 0, result.Error);
        using var image = Decode(path);
        Assert.Equal((1200, 600), (image.Width, image.Height));
        Assert.Equal(0, RedPixels(image));
    }

    [Theory]
    [InlineData("no-such-series", "2026-11-22", "There is no series 'no-such-series'.")]
    [InlineData(ScoredFleetFixture.YoungSeries, "2026-11-19", "Series 'young/0001' was never scored for 2026-11-19")]
    public async Task An_unknown_series_or_an_unscored_date_exits_1_naming_it_and_writes_nothing(string key, string date, string expected)
    {
        string path = Path.Combine(_directory, "none.png");

        var result = await CliProcess.RunAsync(Environment(), "plot", "--series", key, "--date", date, "--out", path);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    private static SKBitmap Decode(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], bytes[..8]);
        return SKBitmap.Decode(bytes) ?? throw new InvalidDataException($"{path} does not decode as an image.");
    }

    /// <summary>Pixels of the flags' pure red (anti-aliased edges are blends and do not count).</summary>
    private static int RedPixels(SKBitmap image)
    {
        int count = 0;
        foreach (var pixel in image.Pixels)
        {
            if (pixel.Red >= 230 && pixel.Green <= 40 && pixel.Blue <= 40)
            {
                count++;
            }
        }
        return count;
    }
}
