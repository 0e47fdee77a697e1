using AnomalyMeta.Testing;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage.Tests;

/// <summary>What <see cref="PostgresSettings.CreateDataSource"/> sets on every session, on the real server.</summary>
public sealed class DataSourceSettingsTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Sessions_of_the_data_source_run_without_jit_whatever_the_server_default()
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();

        Assert.Equal("off", await connection.ExecuteScalarAsync<string>("show jit"));
        // The server's own default is untouched: a plain connection still has it on (PostgreSQL's default).
        await using var plain = new NpgsqlConnection(postgres.ConnectionString);
        await plain.OpenAsync();
        Assert.Equal("on", await plain.ExecuteScalarAsync<string>("show jit"));
    }

    [Fact]
    public async Task A_connection_string_that_sets_jit_itself_keeps_it_and_its_other_options()
    {
        var configured = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Options = "-c jit=on -c work_mem=8MB" };
        await using var dataSource = PostgresSettings.CreateDataSource(configured.ConnectionString);
        await using var connection = await dataSource.OpenConnectionAsync();

        Assert.Equal("on", await connection.ExecuteScalarAsync<string>("show jit"));
        Assert.Equal("8MB", await connection.ExecuteScalarAsync<string>("show work_mem"));
    }

    [Fact]
    public async Task Options_without_jit_are_kept_beside_it()
    {
        var configured = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Options = "-c work_mem=8MB" };
        await using var dataSource = PostgresSettings.CreateDataSource(configured.ConnectionString);
        await using var connection = await dataSource.OpenConnectionAsync();

        Assert.Equal("off", await connection.ExecuteScalarAsync<string>("show jit"));
        Assert.Equal("8MB", await connection.ExecuteScalarAsync<string>("show work_mem"));
    }
}
