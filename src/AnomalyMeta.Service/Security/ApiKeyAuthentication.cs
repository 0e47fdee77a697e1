using System.Security.Claims;
using System.Text.Encodings.Web;
using AnomalyMeta.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace AnomalyMeta.Service.Security;

/// <summary>
/// Authenticates a request by its <c>X-Api-Key</c> header against the live keys of <see cref="ApiKeyStore"/>. The
/// identity's name is the key's name. The keys are read on every authenticated request (mutating requests are few),
/// so a revoked key stops working at once. The key is never logged.
/// </summary>
public sealed class ApiKeyAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeyStore keys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string Header = "X-Api-Key";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(Header, out var values) || values.Count != 1 || string.IsNullOrEmpty(values[0]))
        {
            return AuthenticateResult.NoResult();
        }
        string? name = ApiKeyStore.Match(values[0]!, await keys.LiveHashesAsync(Context.RequestAborted));
        if (name is null)
        {
            return AuthenticateResult.Fail($"The {Header} header holds no live key.");
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
