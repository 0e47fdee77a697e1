using AnomalyMeta.Benchmarks;

namespace AnomalyMeta.Periodicity.Tests;

public sealed class M4FileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("m4-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string content)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void Ragged_rows_lose_their_trailing_empty_cells()
    {
        string path = Write("Hourly-train.csv", "\"V1\",\"V2\",\"V3\",\"V4\"\n\"H1\",\"1.5\",\"2\",\"3\"\n\"H2\",\"4\",\"5\",\n");

        IReadOnlyList<M4Series> series = M4File.Read(path);

        Assert.Equal(2, series.Count);
        Assert.Equal("H2", series[1].Id);
        Assert.Equal([4f, 5f], series[1].Values);
    }

    [Fact]
    public void A_bad_cell_names_file_line_and_column()
    {
        string path = Write("Hourly-train.csv", "\"V1\",\"V2\",\"V3\"\n\"H1\",\"1\",\"2\"\n\"H2\",\"3\",\"abc\"\n");

        var error = Assert.Throws<InvalidDataException>(() => M4File.Read(path));

        Assert.Equal("Hourly-train.csv line 3, column 3: 'abc' is not a number.", error.Message);
    }

    [Fact]
    public void Broken_quoting_is_an_error_not_a_repaired_number()
    {
        string path = Write("Hourly-train.csv", "\"V1\",\"V2\",\"V3\"\n\"H1\",\"1\",\"2\"\n\"H2\",\"1\"2,\"3\"\n");

        var error = Assert.Throws<InvalidDataException>(() => M4File.Read(path));

        Assert.StartsWith("Hourly-train.csv line 3: malformed CSV", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_reported()
    {
        Assert.Throws<FileNotFoundException>(() => M4File.Read(Path.Combine(_directory, "none.csv")));
    }
}
