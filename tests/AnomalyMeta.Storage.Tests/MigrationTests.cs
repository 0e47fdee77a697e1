using AnomalyMeta.Storage.Tests.Infrastructure;
using AnomalyMeta.Testing;
using Dapper;

namespace AnomalyMeta.Storage.Tests;

[Collection(PostgresTests.Name)]
public sealed class MigrationTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Migrations_apply_twice_without_error()
    {
        // The fixture applied them once already; twice more must be no-ops.
        Assert.Empty(DatabaseMigrator.Migrate(postgres.ConnectionString, DatabaseMigrator.FindMigrationsDirectory()));
        Assert.Empty(DatabaseMigrator.Migrate(postgres.ConnectionString, DatabaseMigrator.FindMigrationsDirectory()));

        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        var applied = (await connection.QueryAsync<string>("select scriptname from schemaversions order by schemaversionsid")).ToList();
        Assert.Equal(EveryScriptInOrder(), applied);
        var tables = await connection.ExecuteScalarAsync<int>(
            "select count(*) from information_schema.tables where table_schema = 'public' and table_name in ('series', 'observation_day', 'run', 'anomaly', 'qrtz_triggers')");
        Assert.Equal(5, tables);
    }

    [Fact]
    public void Migrations_ship_next_to_the_app()
    {
        var directory = DatabaseMigrator.FindMigrationsDirectory();

        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "db"), directory);
        Assert.True(File.Exists(Path.Combine(directory, "0001_core_schema.sql")));
    }

    [Fact]
    public async Task A_fresh_database_gets_every_script_in_order_and_says_so()
    {
        var database = "anomalymeta_test_fresh_" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var applied = DatabaseMigrator.Migrate(postgres.ConnectionStringFor(database), DatabaseMigrator.FindMigrationsDirectory());

            Assert.Equal(EveryScriptInOrder(), applied);
        }
        finally
        {
            await postgres.DropDatabaseAsync(database);
        }
    }

    [Fact]
    public Task A_migration_may_run_longer_than_npgsqls_default_command_timeout() =>
        // Npgsql gives a statement 30 s unless told otherwise; a script that moves a fleet's table runs longer.
        WithScriptsAsync("long", [("0001_long.sql", "create table long_table as select 1 as id from pg_sleep(31);")], (scripts, database) =>
        {
            Assert.Equal(["0001_long.sql"], DatabaseMigrator.Migrate(postgres.ConnectionStringFor(database), scripts));
            return Task.CompletedTask;
        });

    [Fact]
    public Task A_failing_migration_names_its_script_and_leaves_none_of_it_applied() =>
        WithScriptsAsync("broken",
            [("0001_ok.sql", "create table ok_table (id integer);"), ("0002_broken.sql", "create table half_done (id integer);\nselect no_such_function();")],
            async (scripts, database) =>
            {
                var error = Assert.Throws<InvalidOperationException>(() => DatabaseMigrator.Migrate(postgres.ConnectionStringFor(database), scripts));

                Assert.Contains("0002_broken.sql", error.Message, StringComparison.Ordinal);
                await using var connection = await PostgresFixture.OpenServerAsync(postgres.ConnectionStringFor(database));
                var tables = (await connection.QueryAsync<string>(
                    "select table_name from information_schema.tables where table_name in ('ok_table', 'half_done')")).ToList();
                Assert.Equal(["ok_table"], tables);
            });

    /// <summary>Runs <paramref name="test"/> with a folder of the given scripts and the name of a database of its own; drops both after.</summary>
    private async Task WithScriptsAsync(string name, (string File, string Sql)[] files, Func<string, string, Task> test)
    {
        var scripts = Directory.CreateTempSubdirectory("anomalymeta-migrations-");
        var database = $"anomalymeta_test_{name}_" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            foreach (var (file, sql) in files)
            {
                await File.WriteAllTextAsync(Path.Combine(scripts.FullName, file), sql);
            }

            await test(scripts.FullName, database);
        }
        finally
        {
            await postgres.DropDatabaseAsync(database);
            scripts.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_wrong_database_or_one_without_the_schema_is_one_line_naming_it_and_a_migrated_one_is_usable()
    {
        var empty = "anomalymeta_test_empty_" + Guid.NewGuid().ToString("N")[..8];
        await using (var server = await PostgresFixture.OpenServerAsync(postgres.ConnectionString))
        {
            await server.ExecuteAsync($"create database {empty}");
        }
        try
        {
            string? missing = DatabaseMigrator.Unusable(postgres.ConnectionStringFor("anomalymeta_no_such_database"), DatabaseMigrator.FindMigrationsDirectory());
            string? unmigrated = DatabaseMigrator.Unusable(postgres.ConnectionStringFor(empty), DatabaseMigrator.FindMigrationsDirectory());

            Assert.NotNull(missing);
            Assert.Contains("'anomalymeta_no_such_database'", missing, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', missing);
            Assert.NotNull(unmigrated);
            Assert.Contains("anomalymeta migrate", unmigrated, StringComparison.Ordinal);
            Assert.Null(DatabaseMigrator.Unusable(postgres.ConnectionString, DatabaseMigrator.FindMigrationsDirectory()));
        }
        finally
        {
            await postgres.DropDatabaseAsync(empty);
        }
    }

    [Fact]
    public async Task The_dashboard_role_reads_the_flags_and_the_ledger_but_not_the_keys_nor_the_checkpoints()
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("set local role anomalymeta_reader", transaction: transaction);

        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("select count(*) from anomaly where false", transaction: transaction));
        await connection.ExecuteAsync("savepoint before_keys", transaction: transaction);
        var keys = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => connection.ExecuteAsync("select count(*) from api_key", transaction: transaction));
        await connection.ExecuteAsync("rollback to savepoint before_keys", transaction: transaction);
        var checkpoints = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => connection.ExecuteAsync("select checkpoint from model", transaction: transaction));
        await connection.ExecuteAsync("rollback to savepoint before_keys", transaction: transaction);
        var write = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => connection.ExecuteAsync("delete from anomaly", transaction: transaction));

        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, keys.SqlState);
        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, checkpoints.SqlState);
        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, write.SqlState);
    }

    /// <summary>Every script of db/, in file-name order: what a fresh database must have applied, each once.</summary>
    private static List<string> EveryScriptInOrder()
    {
        var scripts = Directory.GetFiles(DatabaseMigrator.FindMigrationsDirectory(), "*.sql").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.True(scripts.Count >= 10, $"only {scripts.Count} scripts in db/");
        Assert.Equal("0001_core_schema.sql", scripts[0]);
        return scripts!;
    }
}
