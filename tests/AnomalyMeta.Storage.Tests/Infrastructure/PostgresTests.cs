using AnomalyMeta.Testing;

namespace AnomalyMeta.Storage.Tests.Infrastructure;

/// <summary>The tests sharing one throwaway database; xunit runs a collection's tests one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresTests : ICollectionFixture<PostgresFixture>
{
    public const string Name = "PostgreSQL";
}
