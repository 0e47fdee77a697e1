using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>One unit of work on one connection: several writes that must land together or not at all.</summary>
internal static class DataSourceTransactions
{
    /// <summary>Runs <paramref name="work"/> in a new transaction and commits when it returns; an exception rolls back.</summary>
    public static async Task<T> InTransactionAsync<T>(
        this NpgsqlDataSource dataSource,
        Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work,
        CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var result = await work(connection, transaction).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
        }
    }

    /// <summary>The same for work that returns nothing.</summary>
    public static Task InTransactionAsync(
        this NpgsqlDataSource dataSource,
        Func<NpgsqlConnection, NpgsqlTransaction, Task> work,
        CancellationToken cancellationToken) =>
        dataSource.InTransactionAsync(
            async (connection, transaction) =>
            {
                await work(connection, transaction).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
}
