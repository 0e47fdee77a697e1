using Microsoft.Extensions.Options;

namespace AnomalyMeta.Service.Hosting;

/// <summary>Options validation from an options class's own list of problems, so every problem is reported, not the first.</summary>
public sealed class ProblemsValidator<TOptions>(Func<TOptions, IEnumerable<string>> problems) : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var found = problems(options).ToList();
        return found.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(found);
    }
}
