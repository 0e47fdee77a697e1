using System.CommandLine;
using AnomalyMeta.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace AnomalyMeta.Cli.Commands;

/// <summary><c>anomalymeta apikey create|revoke|list</c>: the keys of the service's mutating endpoints.</summary>
internal static class ApiKeyCommands
{
    public static Command Create()
    {
        var apikey = new Command("apikey", "Manage the API keys of the service's mutating endpoints (stored hashed; a key is shown once).");
        apikey.Subcommands.Add(CreateKey());
        apikey.Subcommands.Add(Revoke());
        apikey.Subcommands.Add(List());
        return apikey;
    }

    private static Argument<string> NameArgument(string description) => new("name") { Description = description };

    private static Command CreateKey()
    {
        var name = NameArgument("Who acts with the key (letters, digits, . _ @ -): the run ledger records it as triggered_by.");
        var command = new Command("create", "Create a key and print it: the only time it can be read.") { name };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            string key = await host.Services.GetRequiredService<ApiKeyStore>().CreateAsync(parse.GetValue(name)!, cancellationToken);
            Console.WriteLine(key);
            Console.Error.WriteLine($"Key '{parse.GetValue(name)}' created. Send it as the X-Api-Key header; it cannot be shown again.");
            return 0;
        });
        return command;
    }

    private static Command Revoke()
    {
        var name = NameArgument("The key to revoke.");
        var command = new Command("revoke", "Revoke a key: requests with it are refused from now on.") { name };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            string keyName = parse.GetValue(name)!;
            if (!await host.Services.GetRequiredService<ApiKeyStore>().RevokeAsync(keyName, cancellationToken))
            {
                Console.Error.WriteLine($"There is no live key named '{keyName}'.");
                return 1;
            }
            Console.WriteLine($"Key '{keyName}' revoked.");
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List the keys (names and dates; never the keys).");
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build();
            Console.WriteLine("| name | created | revoked |");
            Console.WriteLine("| --- | --- | --- |");
            foreach (var key in await host.Services.GetRequiredService<ApiKeyStore>().ListAsync(cancellationToken))
            {
                Console.WriteLine($"| {key.Name} | {key.CreatedAt:yyyy-MM-dd HH:mm}Z | {(key.RevokedAt is DateTimeOffset r ? $"{r:yyyy-MM-dd HH:mm}Z" : "")} |");
            }
            return 0;
        });
        return command;
    }
}
