using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;

namespace AnomalyMeta.Storage;

/// <summary>A key as listed: never the key itself, which is shown once when created and stored only as a hash.</summary>
public sealed record ApiKeyInfo(int KeyId, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>
/// Keys of the API's mutating endpoints (<c>api_key</c>). A key is 32 random bytes (base64url, prefixed "am_"); the
/// table keeps its SHA-256 only, so a copy of the database holds no usable key. A key's name is who acts with it:
/// the run ledger records it as <c>triggered_by</c>.
/// </summary>
public sealed partial class ApiKeyStore(NpgsqlDataSource dataSource)
{
    private const string Prefix = "am_";

    /// <summary>Creates a key named <paramref name="name"/> and returns it: the only time the key can be read.</summary>
    public async Task<string> CreateAsync(string name, CancellationToken cancellationToken)
    {
        if (!ValidName().IsMatch(name))
        {
            throw new ArgumentException($"A key name is 1 to 64 letters, digits, '.', '_', '@' or '-'; found '{name}'.", nameof(name));
        }
        string key = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "insert into api_key (name, key_hash) values (@name, @hash)", new { name, hash = Hash(key) }, cancellationToken: cancellationToken));
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new InvalidOperationException($"A key named '{name}' exists already (revoked keys keep their name).", exception);
        }
        return key;
    }

    /// <summary>Revokes the key named <paramref name="name"/>; false when there is no live key of that name.</summary>
    public async Task<bool> RevokeAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "update api_key set revoked_at = now() where name = @name and revoked_at is null", new { name }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(int KeyId, string Name, DateTime CreatedAt, DateTime? RevokedAt)>(new CommandDefinition(
            "select key_id, name, created_at, revoked_at from api_key order by key_id", cancellationToken: cancellationToken));
        return [.. rows.Select(r => new ApiKeyInfo(r.KeyId, r.Name, new DateTimeOffset(r.CreatedAt, TimeSpan.Zero),
            r.RevokedAt is DateTime revoked ? new DateTimeOffset(revoked, TimeSpan.Zero) : null))];
    }

    /// <summary>The live keys' names and hashes, for <see cref="Match"/>.</summary>
    public async Task<IReadOnlyList<(string Name, byte[] Hash)>> LiveHashesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Name, byte[] Hash)>(new CommandDefinition(
            "select name, key_hash from api_key where revoked_at is null", cancellationToken: cancellationToken));
        return [.. rows];
    }

    /// <summary>
    /// The name of the live key <paramref name="presented"/> is, or null. Every hash is compared in constant time,
    /// and all of them, so neither the time of one comparison nor where the loop stops tells how close a guess was.
    /// </summary>
    public static string? Match(string presented, IReadOnlyList<(string Name, byte[] Hash)> live)
    {
        byte[] hash = Hash(presented);
        string? name = null;
        foreach (var (candidate, stored) in live)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, stored))
            {
                name = candidate;
            }
        }
        return name;
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [GeneratedRegex("^[A-Za-z0-9._@-]{1,64}$")]
    private static partial Regex ValidName();
}
