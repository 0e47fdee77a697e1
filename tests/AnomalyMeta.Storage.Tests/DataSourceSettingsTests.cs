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

    [Theory]
    // A connection string that sets jit itself keeps it; other options are kept beside the one added.
    [InlineData("-c jit=on -c work_mem=8MB", "on")]
    [InlineData("-c work_mem=8MB", "off")]
    public async Task Options_of_the_connection_string_are_kept_and_jit_is_added_only_when_they_do_not_set_it(string options, string jit)
    {
        var configured = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Options = options };
        await using var dataSource = PostgresSettings.CreateDataSource(configured.ConnectionString);
        await using var connection = await dataSource.OpenConnectionAsync();

        Assert.Equal(jit, await connection.ExecuteScalarAsync<string>("show jit"));
        Assert.Equal("8MB", await connection.ExecuteScalarAsync<string>("show work_mem"));
    }

    [Theory]
    [InlineData("", PostgresSettings.DefaultCommandTimeoutSeconds)]
    [InlineData(";Command Timeout=12", 12)]
    [InlineData(";CommandTimeout=0", 0)]
    public void A_command_timeout_the_connection_string_sets_is_kept_and_the_fleet_scale_default_fills_in_otherwise(string setting, int seconds)
    {
        string configured = postgres.ConnectionString + setting;

        Assert.Equal(seconds, new NpgsqlConnectionStringBuilder(PostgresSettings.WithDefaultCommandTimeout(configured)).CommandTimeout);
        using var dataSource = PostgresSettings.CreateDataSource(configured);
        Assert.Equal(seconds, new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).CommandTimeout);
    }
}
