using System.Globalization;
using AnomalyMeta.Core.Synthetic;

namespace AnomalyMeta.Cli.Commands;

/// <summary>The generated fleet as observation CSV (`series_key,timestamp,value`, blank where a point is missing).</summary>
internal static class SyntheticCsv
{
    public const string Header = "series_key,timestamp,value";

    /// <summary>Writes every reading of series [<paramref name="from"/>, <paramref name="to"/>) and returns how many rows.</summary>
    public static async Task<long> WriteSeriesAsync(TextWriter writer, SyntheticSeriesGenerator generator, int from, int to, CancellationToken cancellationToken)
    {
        var options = generator.Options;
        var first = options.FirstDay.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var step = TimeSpan.FromDays(1) / options.PointsPerDay;
        long rows = 0;
        for (int i = from; i < to; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var generated = generator.Generate(i);
            for (int t = 0; t < generated.Values.Length; t++)
            {
                float value = generated.Values[t];
                string text = float.IsNaN(value) ? "" : value.ToString("R", CultureInfo.InvariantCulture);
                await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{generated.Key},{first + (step * t):yyyy-MM-ddTHH:mm:ssZ},{text}"));
                rows++;
            }
        }
        return rows;
    }
}
